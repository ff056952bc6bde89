import { defineConfig } from '@playwright/test';

// The app and the sandbox EHR on two different sites, as in production (the EHR frames the app
// cross-site). Ports differ from the dev defaults so a running dev server does not interfere.
export const APP_URL = 'http://localhost:3300';
export const EHR_URL = 'http://127.0.0.1:3400';

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  // A runaway suite fails instead of eating the CI budget.
  globalTimeout: 20 * 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: EHR_URL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    viewport: { width: 1024, height: 768 },
    launchOptions: {
      // Debian's Chromium; Playwright's own browser download cannot work here.
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    // Built by `cargo leptos build` (scripts/test.sh does it first). A fresh database each run.
    command: 'rm -rf target/e2e-data && exec target/debug/server',
    cwd: '..',
    url: 'http://127.0.0.1:3300/healthz',
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      LEPTOS_OUTPUT_NAME: 'ereferral',
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_SITE_PKG_DIR: 'pkg',
      LEPTOS_ENV: 'DEV',
      EREFERRAL_LISTEN: '127.0.0.1:3300',
      EREFERRAL_PUBLIC_URL: APP_URL,
      EREFERRAL_SANDBOX_LISTEN: '127.0.0.1:3400',
      EREFERRAL_SANDBOX_PUBLIC_URL: EHR_URL,
      EREFERRAL_DATA_DIR: 'target/e2e-data',
      EREFERRAL_LOG: 'info',
    },
  },
});
