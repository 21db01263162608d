import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity('vm_events')
@Index('vm_events_by_vm_and_time', ['vmUid', 'timestamp', 'id'])
export class EventEntity {
  /** Insertion order; with the timestamp it makes a stable pagination key. */
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column('uuid', { name: 'vm_uid' })
  vmUid!: string;

  @Column('text')
  kind!: string;

  /** Unix seconds, as the worker reported them. */
  @Column('bigint', { transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  timestamp!: number;

  @Column('text')
  payload!: string;
}
