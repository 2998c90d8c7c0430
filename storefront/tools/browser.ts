import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * The system's Chromium, headless (the browser tests and the screenshot tool): CHROMIUM_PATH, else
 * Debian's. playwright-core downloads nothing; without a browser this says how to get one.
 */
export function launchChromium(): Promise<Browser> {
  const executablePath =
    process.env['CHROMIUM_PATH'] ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((path) => existsSync(path));
  if (executablePath === undefined) throw new Error("no Chromium found: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH");
  // as root (CI) Chromium's sandbox cannot start; /dev/shm is small in containers
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}
