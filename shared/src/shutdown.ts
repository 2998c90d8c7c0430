import type { Logger } from './logger.ts';

/**
 * Runs `steps` in order on SIGTERM or SIGINT (stop accepting, drain, close connections), then
 * exits. A second signal, or steps running past `timeoutMs`, exits at once with code 1.
 */
export function onShutdown(logger: Logger, steps: readonly (() => Promise<unknown>)[], timeoutMs = 15_000): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    void (async () => {
      for (const step of steps) {
        try {
          await step();
        } catch (error) {
          logger.error({ err: error }, 'shutdown step failed');
        }
      }
      logger.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Logs and exits on a start-up failure, naming the problem (bad config, unreachable server). */
export function exitOnStartupError(logger: Logger | undefined, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  if (logger === undefined) console.error(message);
  else logger.fatal({ err: error }, `failed to start: ${message}`);
  process.exit(1);
}
