// Option parsers for the command line: numbers, lists and choices, each refusing what it cannot
// read with commander's InvalidArgumentError (a usage error, exit 2).

import { InvalidArgumentError } from 'commander';

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  return n;
}

export function numberList(value: string): number[] {
  return value.split(',').map((v) => positiveNumber(v.trim()));
}

/** A parser for a comma-separated list of `choices`. */
export function choiceList<T extends string>(choices: readonly T[], what: string): (value: string) => T[] {
  return (value) =>
    value.split(',').map((v) => {
      const p = v.trim();
      if (!(choices as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown ${what} "${p}" (expected ${choices.join(', ')})`);
      return p as T;
    });
}


export function partitionList(value: string): number[] {
  return value.split(',').map((v) => {
    const n = Number(v.trim());
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`expected partition numbers, got "${value}"`);
    return n;
  });
}

export function countList(value: string): number[] {
  return value.split(',').map((v) => {
    const n = nonNegativeNumber(v.trim());
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected a whole number, got "${v}"`);
    return n;
  });
}
