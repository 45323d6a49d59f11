// What a call ended in, as one string a test can compare: 'ok', or the error's stable code.

export async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
}
