// A command line that asks for something the command cannot do (flags that need each other, a
// value out of range): the CLI prints `sluice: usage: ...` and exits 2, as for commander's errors.

export class UsageError extends Error {
  override readonly name = 'UsageError';
}
