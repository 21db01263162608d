/**
 * The bench's relay as a process of its own (a hop like ssh or the port-forward CLI, not sharing
 * the bench's event loop): `node relay-main.js --to PORT [--to PORT ...] [--delay-ms N]` listens on
 * one free 127.0.0.1 port per target, prints `relay 127.0.0.1:LISTEN -> 127.0.0.1:TARGET` for each,
 * then `relay ready`. It stops on SIGINT or SIGTERM, or when its stdin closes (the bench is gone).
 */
import { parseArgs } from 'node:util';

import { portOf, startRelay } from './relay.js';

const { values } = parseArgs({
  options: { to: { type: 'string', multiple: true }, 'delay-ms': { type: 'string', default: '0' } },
});
const delayMs = Number(values['delay-ms']);
const targets = (values.to ?? []).map(Number);
if (!Number.isFinite(delayMs) || delayMs < 0 || targets.length === 0) {
  process.stderr.write('usage: relay-main --to PORT [--to PORT ...] [--delay-ms N]\n');
  process.exit(2);
}

const servers = await Promise.all(targets.map((targetPort) => startRelay({ targetPort, delayMs })));
servers.forEach((server, index) => {
  process.stdout.write(`relay 127.0.0.1:${portOf(server)} -> 127.0.0.1:${targets[index]}\n`);
});
process.stdout.write(`relay ready (delay ${delayMs} ms each way)\n`);

const stop = () => process.exit(0);
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
