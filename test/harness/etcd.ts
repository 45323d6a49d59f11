// The tests' etcd is the one `sluice dev cluster` runs (src/cli/etcd-process.ts).

export { startEtcd, etcdBinary, type EtcdProcess, type StartEtcdOptions } from '../../src/cli/etcd-process.js';
