/**
 * Progress on stderr: a bar redrawn in place on a terminal, a plain line per 10% otherwise (a
 * log file or CI must not fill with carriage returns). Rows/s and the ETA are over the whole run.
 */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): { update(done: number, total: number): void; end(): void } {
  const started = Date.now();
  let lastDecile = -1;
  let drawn = false;
  return {
    update(done, total) {
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      const rate = done / seconds;
      const share = total === 0 ? 1 : Math.min(1, done / total);
      const eta = rate > 0 ? Math.round((total - done) / rate) : 0;
      const text = `${label} ${Math.round(share * 100)}% ${done}/${total} rows, ${Math.round(rate)} rows/s, ETA ${eta} s`;
      if (stream.isTTY) {
        const width = 30;
        const filled = Math.round(share * width);
        stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
        drawn = true;
      } else {
        const decile = Math.floor(share * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          stream.write(`${text}\n`);
        }
      }
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}
