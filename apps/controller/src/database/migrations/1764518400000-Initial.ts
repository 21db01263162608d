import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The v1 schema: VMs, workers, service accounts, cluster settings and VM events. */
export class Initial1764518400000 implements MigrationInterface {
  name = 'Initial1764518400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE vms (
        uid uuid PRIMARY KEY,
        name text NOT NULL,
        image text NOT NULL,
        image_pull_policy text NOT NULL,
        cpu bigint NOT NULL DEFAULT 0,
        memory bigint NOT NULL DEFAULT 0,
        disk_size bigint NOT NULL DEFAULT 0,
        os text NOT NULL,
        arch text NOT NULL,
        runtime text NOT NULL,
        net_bridged text NOT NULL DEFAULT '',
        headless boolean NOT NULL DEFAULT false,
        nested boolean NOT NULL DEFAULT false,
        net_softnet boolean NOT NULL DEFAULT false,
        net_softnet_allow text[] NOT NULL DEFAULT '{}',
        net_softnet_block text[] NOT NULL DEFAULT '{}',
        suspendable boolean NOT NULL DEFAULT false,
        power_state text NOT NULL DEFAULT 'running',
        username text NOT NULL DEFAULT '',
        password text NOT NULL DEFAULT '',
        startup_script jsonb,
        restart_policy text NOT NULL DEFAULT 'Never',
        restarted_at timestamptz,
        restart_count integer NOT NULL DEFAULT 0,
        random_serial boolean NOT NULL DEFAULT false,
        resources jsonb NOT NULL DEFAULT '{}',
        labels jsonb NOT NULL DEFAULT '{}',
        host_dirs jsonb NOT NULL DEFAULT '[]',
        image_fqn text NOT NULL DEFAULT '',
        status text NOT NULL,
        status_message text NOT NULL DEFAULT '',
        worker text NOT NULL DEFAULT '',
        assigned_cpu bigint NOT NULL DEFAULT 0,
        assigned_memory bigint NOT NULL DEFAULT 0,
        conditions jsonb NOT NULL DEFAULT '[]',
        generation bigint NOT NULL DEFAULT 0,
        observed_generation bigint NOT NULL DEFAULT 0,
        restart_not_before timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        scheduled_at timestamptz,
        started_at timestamptz
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX vms_name_key ON vms (name)`);
    await queryRunner.query(`CREATE INDEX vms_by_worker ON vms (worker)`);
    await queryRunner.query(`CREATE INDEX vms_pending_by_age ON vms (status, created_at)`);

    await queryRunner.query(`
      CREATE TABLE workers (
        name text PRIMARY KEY,
        machine_id text NOT NULL,
        last_seen timestamptz NOT NULL,
        scheduling_paused boolean NOT NULL DEFAULT false,
        resources jsonb NOT NULL DEFAULT '{}',
        labels jsonb NOT NULL DEFAULT '{}',
        default_cpu bigint NOT NULL DEFAULT 0,
        default_memory bigint NOT NULL DEFAULT 0,
        arch text NOT NULL,
        runtime text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    await queryRunner.query(`
      CREATE TABLE service_accounts (
        name text PRIMARY KEY,
        token_hash text NOT NULL,
        roles text[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    await queryRunner.query(`
      CREATE TABLE cluster_settings (
        id integer PRIMARY KEY CHECK (id = 1),
        host_dir_policies jsonb NOT NULL DEFAULT '[]',
        scheduler_profile text NOT NULL DEFAULT 'optimize-utilization'
      )`);
    await queryRunner.query(`INSERT INTO cluster_settings (id) VALUES (1)`);

    await queryRunner.query(`
      CREATE TABLE vm_events (
        id bigserial PRIMARY KEY,
        vm_uid uuid NOT NULL REFERENCES vms (uid) ON DELETE CASCADE,
        kind text NOT NULL,
        timestamp bigint NOT NULL,
        payload text NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX vm_events_by_vm_and_time ON vm_events (vm_uid, timestamp, id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE vm_events`);
    await queryRunner.query(`DROP TABLE cluster_settings`);
    await queryRunner.query(`DROP TABLE service_accounts`);
    await queryRunner.query(`DROP TABLE workers`);
    await queryRunner.query(`DROP TABLE vms`);
  }
}
