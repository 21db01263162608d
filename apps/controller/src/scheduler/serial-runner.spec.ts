import { SerialRunner } from './serial-runner.js';

/** A task whose first run lasts until `finishFirst()`; later runs end at once. */
function gatedTask() {
  let runs = 0;
  let finishFirst: () => void = () => undefined;
  const task = () => {
    runs += 1;
    return runs === 1 ? new Promise<void>((resolve) => (finishFirst = resolve)) : Promise.resolve();
  };
  return { task, runs: () => runs, finishFirst: () => finishFirst() };
}

describe(SerialRunner.name, () => {
  it('runs the task when asked', async () => {
    const gated = gatedTask();
    const sut = new SerialRunner(gated.task);

    sut.request();
    gated.finishFirst();
    await sut.idle();

    expect(gated.runs()).toBe(1);
  });

  it('collapses the requests made during a run into one more run after it', async () => {
    const gated = gatedTask();
    const sut = new SerialRunner(gated.task);

    sut.request();
    sut.request();
    sut.request();
    sut.request();
    expect(gated.runs()).toBe(1);
    gated.finishFirst();
    await sut.idle();

    expect(gated.runs()).toBe(2);
  });

  it('runs again for a request made after the last run ended', async () => {
    const gated = gatedTask();
    const sut = new SerialRunner(gated.task);

    sut.request();
    gated.finishFirst();
    await sut.idle();
    sut.request();
    await sut.idle();

    expect(gated.runs()).toBe(2);
  });

  it('on stop, finishes the run in progress, drops the queued one and refuses new ones', async () => {
    const gated = gatedTask();
    const sut = new SerialRunner(gated.task);

    sut.request();
    sut.request();
    const stopped = sut.stop();
    gated.finishFirst();
    await stopped;
    sut.request();

    expect(gated.runs()).toBe(1);
  });
});
