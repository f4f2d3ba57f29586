/**
 * Push: each server's activity to a central MariaDB server or Galera
 * cluster, and the fleet report read back from it.
 *
 * - `config.ts`: the `[central]` section of the ini file;
 * - `connect.ts`: reaching the central store (hosts in order, the Primary
 *   Component, timeouts and one deadline, which errors retry or fail over);
 * - `schema.ts`: the central tables and their migrations;
 * - `local_server.ts`: what the local server says of itself (cluster, its own
 *   login, name resolution) and its accounts, through its client, in one login;
 * - `push.ts`: what is sent when, and its acknowledgement;
 * - `after_run.ts`: the push as a run (or `conntracker push`) makes it, and
 *   its warning;
 * - `fleet_reads.ts`: what the fleet report reads from the central store;
 * - `fleet.ts`: per account across the fleet, with its status;
 * - `fleet_format.ts`: printing it;
 * - `fleet_report.ts`: `conntracker report --central`.
 *
 * @module
 */

export * from "./after_run.ts";
export * from "./config.ts";
export * from "./connect.ts";
export * from "./fleet.ts";
export * from "./fleet_format.ts";
export * from "./fleet_reads.ts";
export * from "./fleet_report.ts";
export * from "./local_server.ts";
export * from "./push.ts";
export * from "./schema.ts";
