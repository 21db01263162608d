import { createDataSource } from './data-source.js';

/**
 * The DataSource for TypeORM's migration CLI, e.g.
 * `DATABASE_URL=postgres://... npx typeorm migration:show -d dist/apps/controller/src/database/typeorm-cli.config.js`.
 * The controller itself never loads this file: it migrates at start (see migrate()).
 */
export default createDataSource(process.env['DATABASE_URL'] ?? 'postgres://localhost:5432/orchard');
