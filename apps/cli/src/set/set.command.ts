import { Command } from 'nest-commander';

import { GroupCommand } from '../common/group-command.js';
import { SetClusterSettingsCommand } from './set-cluster-settings.command.js';

@Command({ name: 'set', description: 'Change settings', subCommands: [SetClusterSettingsCommand] })
export class SetCommand extends GroupCommand {}
