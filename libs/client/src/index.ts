export * from './client-config.js';
export * from './contexts.js';
export * from './errors.js';
export * from './orchard-client.js';
