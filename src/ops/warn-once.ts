// Says a thing once per daemon lifetime: an unknown config key seen on every reload, a value
// that is still wrong, a guest that keeps failing the same way. Bounded, so a source of endless
// distinct messages cannot grow it without limit.
export class WarnOnce {
  private readonly seen = new Set<string>();

  constructor(
    private readonly sink: (message: string) => void,
    private readonly limit = 1024,
  ) {}

  /** Passes `message` to the sink unless it passed before; returns whether it did. */
  say(message: string, key: string = message): boolean {
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.limit) return false;
    this.seen.add(key);
    this.sink(message);
    return true;
  }

  /** Forget `key`, so the next occurrence is said again (a value that was fixed and broke again). */
  forget(key: string): void {
    this.seen.delete(key);
  }
}
