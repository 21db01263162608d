import 'reflect-metadata';

import { CommandFactory } from 'nest-commander';

import { CLI_OPTIONS } from './cli-options.js';
import { CliModule } from './cli.module.js';

await CommandFactory.run(CliModule, CLI_OPTIONS);
