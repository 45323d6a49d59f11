// The layering rules of Sluice, checked in `npm test` (npm run lint:layers). docs/architecture.md
// draws the layers and says why each rule exists. A rule broken is an error: the test fails.

const NODE_IO = '^(node:)?(fs|fs/promises|net|http|https|child_process|worker_threads|dgram|cluster)$';
const DOMAIN = '^src/(broker|log|group|storage|transfer|auth|cluster)/';

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No import cycles in src/ (type-only imports count too: they tie modules as much).', from: { path: '^src/' }, to: { circular: true } },
    { name: 'doors-apart', severity: 'error', comment: "Sluice's door and Kafka's never import each other: what they share is the broker API.", from: { path: '^src/doors/sluice/' }, to: { path: '^src/doors/kafka/' } },
    { name: 'doors-apart-kafka', severity: 'error', comment: "Kafka's door and Sluice's never import each other: what they share is the broker API.", from: { path: '^src/doors/kafka/' }, to: { path: '^src/doors/sluice/' } },
    { name: 'doors-not-server', severity: 'error', comment: 'A door imports the door contract and the broker API, never the server or the composition root.', from: { path: '^src/doors/' }, to: { path: '^src/(server|app)/' } },
    {
      name: 'doors-through-broker',
      severity: 'error',
      comment: 'A door reaches the domain only through the broker API (src/broker), which holds the rules every door shares; the door contract (door.ts) names what the server writes.',
      from: { path: '^src/doors/(sluice|kafka)/' },
      to: { path: '^src/(log|group|storage|transfer|auth|cluster)/' },
    },
    { name: 'server-not-doors', severity: 'error', comment: 'The server drives any door through the contract; only the composition root (src/app) picks doors.', from: { path: '^src/server/' }, to: { path: '^src/doors/', pathNot: '^src/doors/door\\.ts$' } },
    { name: 'domain-not-doors', severity: 'error', comment: 'The broker API and the domain know no protocol, no server and no CLI.', from: { path: DOMAIN }, to: { path: '^src/(doors|server|app|cli)/' } },
    {
      name: 'codecs-pure',
      severity: 'error',
      comment: 'Codecs do no I/O and import nothing native: bytes in, values out.',
      from: { path: ['^src/protocol/', '^src/doors/[^/]+/messages/'] },
      to: { path: ['^src/(server|app|broker|log|group|storage|transfer|auth|cluster|cli|client)/', '^src/native\\.ts$', NODE_IO] },
    },
    {
      name: 'client-not-broker',
      severity: 'error',
      comment: 'The client speaks the protocol; it never loads the broker, its doors or the native addon.',
      from: { path: '^src/client/' },
      to: { path: ['^src/(broker|doors|server|app|log|group|storage|transfer|cluster|cli)/', '^src/native\\.ts$'] },
    },
    {
      name: 'cluster-layer',
      severity: 'error',
      comment: 'The cluster layer (domain level) builds on the log, groups, storage and the client (a follower fetches from its leader as a client), never on the broker API, transfer, auth or the native addon directly.',
      from: { path: '^src/cluster/' },
      to: { path: ['^src/(broker|transfer|auth)/', '^src/native\\.ts$'] },
    },
    {
      name: 'domain-not-cluster',
      severity: 'error',
      comment: 'The cluster layer drives partitions and topics from above (roles, replicas, placement); the log, groups, storage, transfer and auth never reach up into it.',
      from: { path: '^src/(log|group|storage|transfer|auth)/' },
      to: { path: '^src/cluster/' },
    },
    {
      name: 'etcd-in-one-place',
      severity: 'error',
      comment: 'Only src/cluster/etcd-store.ts talks to etcd: the rest of the cluster logic sees its small API (bigint revisions, SluiceErrors).',
      from: { pathNot: '^src/cluster/etcd-store\\.ts$' },
      to: { path: 'node_modules/(etcd3|cockatiel)/' },
    },
    { name: 'no-bench-in-product', severity: 'error', comment: 'The product never carries benchmarks or test code (the CLI loads bench/ by a path computed at run time).', from: { path: '^src/' }, to: { path: '^(bench|test)/' } },
    { name: 'tests-not-bench', severity: 'error', comment: 'Tests use the product and test/harness, never the benchmarks.', from: { path: '^test/' }, to: { path: '^bench/' } },
    {
      name: 'resolvable',
      severity: 'error',
      comment: "Every import resolves (an unresolved one would slip past the rules above), but for what npm install's build makes: the addon's loader and dist/ (test fixtures run the built package), so the check runs on a clean tree too.",
      from: {},
      to: { couldNotResolve: true, pathNot: ['^sluice/native$', '^(\\.\\./)+dist/'] },
    },
    { name: 'cli-apart', severity: 'error', comment: 'Only the CLI imports the CLI.', from: { path: '^src/', pathNot: '^src/cli/' }, to: { path: '^src/cli/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules is not followed, but not excluded either: a rule about a package (etcd-in-one-place) must see the edge to it.
    exclude: { path: ['^dist/', '^native/', '^target/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.test.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.cjs', '.mjs'] },
  },
};
