import { Module } from '@nestjs/common';

import { configProviders } from './cli-config.js';
import { ClientService } from './common/client.service.js';
import { CommanderSetupService } from './common/commander-setup.service.js';
import { ContextCreateCommand } from './context/context-create.command.js';
import { ContextDefaultCommand } from './context/context-default.command.js';
import { ContextDeleteCommand } from './context/context-delete.command.js';
import { ContextListCommand } from './context/context-list.command.js';
import { ContextCommand } from './context/context.command.js';
import { ControllerRunCommand } from './controller/controller-run.command.js';
import { ControllerCommand } from './controller/controller.command.js';
import { CreateServiceAccountCommand } from './create/create-service-account.command.js';
import { CreateVmCommand } from './create/create-vm.command.js';
import { CreateCommand } from './create/create.command.js';
import { DeleteServiceAccountCommand } from './delete/delete-service-account.command.js';
import { DeleteVmCommand } from './delete/delete-vm.command.js';
import { DeleteWorkerCommand } from './delete/delete-worker.command.js';
import { DeleteCommand } from './delete/delete.command.js';
import { DevCommand } from './dev/dev.command.js';
import { GetBootstrapTokenCommand } from './get/get-bootstrap-token.command.js';
import { GetClusterSettingsCommand } from './get/get-cluster-settings.command.js';
import { GetServiceAccountCommand } from './get/get-service-account.command.js';
import { GetVmCommand } from './get/get-vm.command.js';
import { GetWorkerCommand } from './get/get-worker.command.js';
import { GetCommand } from './get/get.command.js';
import { ListServiceAccountsCommand } from './list/list-service-accounts.command.js';
import { ListVmsCommand } from './list/list-vms.command.js';
import { ListWorkersCommand } from './list/list-workers.command.js';
import { ListCommand } from './list/list.command.js';
import { LogsVmCommand } from './logs/logs-vm.command.js';
import { LogsCommand } from './logs/logs.command.js';
import { PauseWorkerCommand } from './pause/pause-worker.command.js';
import { PauseCommand } from './pause/pause.command.js';
import { PortForwardVmCommand } from './port-forward/port-forward-vm.command.js';
import { PortForwardWorkerCommand } from './port-forward/port-forward-worker.command.js';
import { PortForwardCommand } from './port-forward/port-forward.command.js';
import { ResumeWorkerCommand } from './resume/resume-worker.command.js';
import { ResumeCommand } from './resume/resume.command.js';
import { SetClusterSettingsCommand } from './set/set-cluster-settings.command.js';
import { SetCommand } from './set/set.command.js';
import { SshVmCommand } from './ssh/ssh-vm.command.js';
import { SshCommand } from './ssh/ssh.command.js';
import { VncVmCommand } from './vnc/vnc-vm.command.js';
import { VncWorkerCommand } from './vnc/vnc-worker.command.js';
import { VncCommand } from './vnc/vnc.command.js';
import { WorkerRunCommand } from './worker/worker-run.command.js';
import { WorkerCommand } from './worker/worker.command.js';

/** Every command of the `orchard` CLI; nest-commander builds the tree from their decorators. */
@Module({
  providers: [
    ...configProviders,
    ClientService,
    CommanderSetupService,
    ContextCommand,
    ContextCreateCommand,
    ContextDefaultCommand,
    ContextDeleteCommand,
    ContextListCommand,
    ControllerCommand,
    ControllerRunCommand,
    CreateCommand,
    CreateServiceAccountCommand,
    CreateVmCommand,
    DeleteCommand,
    DeleteServiceAccountCommand,
    DeleteVmCommand,
    DeleteWorkerCommand,
    DevCommand,
    GetBootstrapTokenCommand,
    GetClusterSettingsCommand,
    GetCommand,
    GetServiceAccountCommand,
    GetVmCommand,
    GetWorkerCommand,
    ListCommand,
    ListServiceAccountsCommand,
    ListVmsCommand,
    ListWorkersCommand,
    LogsCommand,
    LogsVmCommand,
    PauseCommand,
    PauseWorkerCommand,
    PortForwardCommand,
    PortForwardVmCommand,
    PortForwardWorkerCommand,
    ResumeCommand,
    ResumeWorkerCommand,
    SetClusterSettingsCommand,
    SetCommand,
    SshCommand,
    SshVmCommand,
    VncCommand,
    VncVmCommand,
    VncWorkerCommand,
    WorkerCommand,
    WorkerRunCommand,
  ],
})
export class CliModule {}
