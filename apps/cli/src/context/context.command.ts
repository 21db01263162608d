import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { ContextCreateCommand } from './context-create.command.js';
import { ContextDefaultCommand } from './context-default.command.js';
import { ContextDeleteCommand } from './context-delete.command.js';
import { ContextListCommand } from './context-list.command.js';

@Command({
  name: 'context',
  description: 'Manage the controllers this CLI talks to (~/.orchard/orchard.yml)',
  subCommands: [ContextCreateCommand, ContextDefaultCommand, ContextDeleteCommand, ContextListCommand],
})
export class ContextCommand extends GroupCommand {}
