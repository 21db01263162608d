import { startTestController, type TestController } from './support/controller-harness.js';

describe('GET /v1/controller/info', () => {
  let api: TestController;

  beforeAll(async () => {
    api = await startTestController();
  });

  afterAll(async () => {
    await api.close();
  });

  it('answers any valid account with the version and capabilities', async () => {
    const response = await api.request<{ version: string; capabilities: string[] }>(
      'GET',
      '/v1/controller/info',
    );
    expect(response.status).toBe(200);
    expect(response.body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(response.body.capabilities).toContain('vm-state-endpoint');
  });

  it('refuses a request without credentials with 401 and a message', async () => {
    const response = await api.request('GET', '/v1/controller/info', undefined, null);
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ message: expect.any(String) });
  });
});
