import 'reflect-metadata';

import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { DataSource } from 'typeorm';

import { OrchardLogger } from '#process';

import { AppModule } from './app.module.js';
import { HttpErrorsFilter } from './common/http-errors.filter.js';
import type { ControllerConfig } from './config/controller-config.js';
import { createDataSource, migrate } from './database/data-source.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './database/embedded-postgres.js';
import { ControllerRpcService } from './rpc/controller-rpc.service.js';
import { ServiceAccountsService } from './service-accounts/service-accounts.service.js';
import { TunnelsService } from './tunnels/tunnels.service.js';

export const BODY_LIMIT = 1024 * 1024;
/**
 * Connections the kernel may queue before the controller accepts them (Node's default is 511).
 * Hundreds of tunnels opened at once (a CI fleet's SSH sessions) overflowed 511 and had their
 * handshakes dropped and retried seconds later. The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

export interface RunningController {
  app: NestFastifyApplication;
  /** http://host:port, with the port actually bound (the config may say 0). */
  url: string;
  port: number;
  openApi: OpenAPIObject;
  close(): Promise<void>;
}

/**
 * Gin (Orchard) binds JSON whatever the Content-Type says; so do we, so that clients sending
 * none, or text/plain, keep working. Malformed JSON is a 400 with a readable message.
 */
function acceptJsonWithAnyContentType(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch (error) {
      const failure = new Error(
        `request body is not valid JSON: ${(error as Error).message}`,
      ) as FastifyError;
      (failure as { statusCode: number }).statusCode = 400;
      done(failure, undefined);
    }
  });
}

/** Builds, migrates and starts a controller; used by `orchard controller run`, `orchard dev`, main.ts and tests. */
export async function createController(config: ControllerConfig): Promise<RunningController> {
  const logger = new OrchardLogger('orchard', { logLevels: config.logLevels });
  const log = new Logger('controller');
  Logger.overrideLogger(logger);

  let embedded: EmbeddedDatabase | null = null;
  let dataSource: DataSource | null = null;
  let app: NestFastifyApplication | null = null;
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      log.log(`starting the embedded PostgreSQL in ${config.dataDir}/postgres`);
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, onLog: (line) => log.debug(line) });
      databaseUrl = embedded.url;
    }
    dataSource = createDataSource(databaseUrl);
    await dataSource.initialize();
    await migrate(dataSource);

    // forceCloseConnections: watch streams and tunnels never go idle, and must not hold up a shutdown.
    // ignoreTrailingSlash: Orchard's Go client probes GET /v1/ (with the slash).
    const adapter = new FastifyAdapter({
      bodyLimit: BODY_LIMIT,
      forceCloseConnections: true,
      routerOptions: { ignoreTrailingSlash: true },
    });
    app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, dataSource), adapter, {
      logger,
      abortOnError: false,
      // Our own parser (below) reads every body as JSON; Nest's would add a urlencoded one.
      bodyParser: false,
    });
    const fastify = app.getHttpAdapter().getInstance();
    acceptJsonWithAnyContentType(fastify);
    if (config.apiPrefix) app.setGlobalPrefix(config.apiPrefix);
    app.useGlobalFilters(new HttpErrorsFilter());

    const openApi = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Orchard-TS controller API')
        .setDescription("Orchard's v1 API: VMs, workers, service accounts, cluster settings and events")
        .setVersion(config.version)
        .addBasicAuth()
        .build(),
    );
    SwaggerModule.setup(`${config.apiPrefix}/v1/docs`, app, openApi, {
      jsonDocumentUrl: `${config.apiPrefix}/v1/openapi.json`,
      useGlobalPrefix: false,
    });

    await app.get(ServiceAccountsService).ensureBootstrapAdmin();
    await app.init();
    app.get(ControllerRpcService).attachTo(app.getHttpServer());
    app.get(TunnelsService).attachTo(app.getHttpServer(), fastify);
    await app.listen({ port: config.listen.port, host: config.listen.host, backlog: LISTEN_BACKLOG });
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : config.listen.port;
    const host = ['0.0.0.0', '::'].includes(config.listen.host) ? '127.0.0.1' : config.listen.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    log.log(`listening on ${config.listen.host}:${port}${config.apiPrefix}/v1`);

    const running = { app, dataSource, embedded };
    return {
      app,
      url,
      port,
      openApi,
      close: async () => {
        await running.app.close();
        await running.dataSource.destroy();
        await running.embedded?.stop();
      },
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    if (dataSource?.isInitialized) await dataSource.destroy().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}
