/**
 * The architecture, checked by `npm run lint`: no import cycles, and each layer imports only
 * what is below it. src/contracts is the leaf everything shares; stages and topology do not know
 * each other's internals (topology uses stages, never the reverse); production code (src/) never
 * imports the development tools (dev/: the local stack, the demo, the reference generator).
 * Tests may import across layers to set up what they test.
 */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'contracts-are-a-leaf',
      comment: 'src/contracts is what every part shares: it imports nothing else of the project.',
      severity: 'error',
      from: { path: '^src/contracts/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(src|dev|test|bench|topologies)/', pathNot: '^src/contracts/' },
    },
    {
      name: 'stages-below-topology',
      comment: 'The topology runs the stages; the stages do not know the runner, router or loader.',
      severity: 'error',
      from: { path: '^src/stages/', pathNot: '\\.test\\.ts$' },
      to: { path: '^src/(topology|sinks|extraction|cli|quarantine)/' },
    },
    {
      name: 'schema-below-stages',
      severity: 'error',
      from: { path: '^src/schema/', pathNot: '\\.test\\.ts$' },
      to: { path: '^src/(stages|topology|sinks|extraction|cli|quarantine)/' },
    },
    {
      name: 'production-code-does-not-import-dev-tools',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(dev|test|bench)/' },
    },
    {
      name: 'only-the-cli-starts-commands',
      comment: 'Commands are wired in src/cli; the components they run do not import the CLI.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/|\\.test\\.ts$' },
      to: { path: '^src/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a layer that needs another's types depends on it.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
