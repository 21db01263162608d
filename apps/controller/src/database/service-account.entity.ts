import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

import type { Role } from '#api';

@Entity('service_accounts')
export class ServiceAccountEntity {
  @PrimaryColumn('text')
  name!: string;

  /** SHA-256 of the token, hex; the token itself is never stored. */
  @Column('text', { name: 'token_hash' })
  tokenHash!: string;

  @Column('text', { array: true })
  roles!: Role[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
