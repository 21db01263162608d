import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

import type {
  Architecture,
  Condition,
  HostDir,
  ImagePullPolicy,
  Labels,
  PowerState,
  Resources,
  RestartPolicy,
  Runtime,
  VmOs,
  VmScript,
  VmStatus,
} from '#api';

/** bigint columns come back from pg as strings; our counters stay far below 2^53. */
const bigintAsNumber = { to: (value: number) => value, from: (value: string | null) => Number(value ?? 0) };

@Entity('vms')
@Index('vms_pending_by_age', ['status', 'createdAt'])
export class VmEntity {
  @PrimaryColumn('uuid')
  uid!: string;

  @Index('vms_name_key', { unique: true })
  @Column('text')
  name!: string;

  @Column('text')
  image!: string;

  @Column('text', { name: 'image_pull_policy' })
  imagePullPolicy!: ImagePullPolicy;

  @Column('bigint', { transformer: bigintAsNumber })
  cpu!: number;

  @Column('bigint', { transformer: bigintAsNumber })
  memory!: number;

  @Column('bigint', { name: 'disk_size', transformer: bigintAsNumber })
  diskSize!: number;

  @Column('text')
  os!: VmOs;

  @Column('text')
  arch!: Architecture;

  @Column('text')
  runtime!: Runtime;

  @Column('text', { name: 'net_bridged' })
  netBridged!: string;

  @Column('boolean')
  headless!: boolean;

  @Column('boolean')
  nested!: boolean;

  @Column('boolean', { name: 'net_softnet' })
  netSoftnet!: boolean;

  @Column('text', { name: 'net_softnet_allow', array: true })
  netSoftnetAllow!: string[];

  @Column('text', { name: 'net_softnet_block', array: true })
  netSoftnetBlock!: string[];

  @Column('boolean')
  suspendable!: boolean;

  @Column('text', { name: 'power_state' })
  powerState!: PowerState;

  @Column('text')
  username!: string;

  @Column('text')
  password!: string;

  @Column('jsonb', { name: 'startup_script', nullable: true })
  startupScript!: VmScript | null;

  @Column('text', { name: 'restart_policy' })
  restartPolicy!: RestartPolicy;

  @Column('timestamptz', { name: 'restarted_at', nullable: true })
  restartedAt!: Date | null;

  @Column('integer', { name: 'restart_count' })
  restartCount!: number;

  @Column('boolean', { name: 'random_serial' })
  randomSerial!: boolean;

  @Column('jsonb')
  resources!: Resources;

  @Column('jsonb')
  labels!: Labels;

  @Column('jsonb', { name: 'host_dirs' })
  hostDirs!: HostDir[];

  @Column('text', { name: 'image_fqn' })
  imageFqn!: string;

  @Column('text')
  status!: VmStatus;

  @Column('text', { name: 'status_message' })
  statusMessage!: string;

  /** Name of the worker the scheduler placed this VM on; '' while unscheduled. */
  @Index('vms_by_worker')
  @Column('text')
  worker!: string;

  @Column('bigint', { name: 'assigned_cpu', transformer: bigintAsNumber })
  assignedCpu!: number;

  @Column('bigint', { name: 'assigned_memory', transformer: bigintAsNumber })
  assignedMemory!: number;

  @Column('jsonb')
  conditions!: Condition[];

  @Column('bigint', { transformer: bigintAsNumber })
  generation!: number;

  @Column('bigint', { name: 'observed_generation', transformer: bigintAsNumber })
  observedGeneration!: number;

  /** When the scheduler may restart a failed OnFailure VM next (backoff); null otherwise. */
  @Column('timestamptz', { name: 'restart_not_before', nullable: true })
  restartNotBefore!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'scheduled_at', nullable: true })
  scheduledAt!: Date | null;

  @Column('timestamptz', { name: 'started_at', nullable: true })
  startedAt!: Date | null;
}
