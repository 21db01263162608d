import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

import type { Architecture, Labels, Resources, Runtime } from '#api';

const bigintAsNumber = { to: (value: number) => value, from: (value: string | null) => Number(value ?? 0) };

@Entity('workers')
export class WorkerEntity {
  @PrimaryColumn('text')
  name!: string;

  @Column('text', { name: 'machine_id' })
  machineId!: string;

  @Column('timestamptz', { name: 'last_seen' })
  lastSeen!: Date;

  @Column('boolean', { name: 'scheduling_paused' })
  schedulingPaused!: boolean;

  @Column('jsonb')
  resources!: Resources;

  @Column('jsonb')
  labels!: Labels;

  @Column('bigint', { name: 'default_cpu', transformer: bigintAsNumber })
  defaultCpu!: number;

  @Column('bigint', { name: 'default_memory', transformer: bigintAsNumber })
  defaultMemory!: number;

  @Column('text')
  arch!: Architecture;

  @Column('text')
  runtime!: Runtime;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
