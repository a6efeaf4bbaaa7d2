// What the command line does when the reader of its stdout or stderr goes away (`vdispld demo
// --help | head`, `vdispld status --json | jq` killed): what a Unix tool does, end quietly, where
// Node would print an unhandled EPIPE and its stack. A command that runs until a signal (run,
// demo, sim xenstored) is stopped as SIGTERM stops it, so guests see their backend close and
// every buffer is released; any other ends at once. Either way the exit status is 141, what a
// shell reports for a program killed by SIGPIPE, so `set -o pipefail` sees what it sees of `ls`.

/** 128 + SIGPIPE: the status a shell shows for a writer whose pipe closed. */
export const READER_GONE_STATUS = 141;

/** The errors that mean the other end of a stream is gone (and writes after that). */
function readerGone(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED';
}

/** Installs the handling on the process's stdout and stderr; called once by the entry point. */
export function endQuietlyWhenReaderGoes(proc: NodeJS.Process = process): void {
  let gone = false;
  const onError = (err: NodeJS.ErrnoException): void => {
    if (!readerGone(err)) throw err;
    if (gone) return;
    gone = true;
    proc.once('exit', () => {
      proc.exitCode = READER_GONE_STATUS;
    });
    // A long-running command stops through its own SIGTERM path; nothing else has one.
    if (proc.listenerCount('SIGTERM') > 0) proc.kill(proc.pid, 'SIGTERM');
    else proc.exit(READER_GONE_STATUS);
  };
  // The listeners stay: a stream whose reader left reports every later write too.
  proc.stdout.on('error', onError);
  proc.stderr.on('error', onError);
}
