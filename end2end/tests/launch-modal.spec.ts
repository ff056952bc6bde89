import { test, expect } from '@playwright/test';
import { APP_URL, EHR_URL } from '../playwright.config';

test('the EHR opens the app in a cross-site modal iframe, and the page hydrates there', async ({ page }) => {
  await page.goto(EHR_URL + '/');
  await expect(page.getByRole('heading', { name: 'Patients' })).toBeVisible();

  await page.getByTestId('refer-modal-pat-1').click();
  const modal = page.getByTestId('app-modal');
  await expect(modal).toBeVisible();

  const frameElement = page.getByTestId('app-frame');
  const frame = page.frameLocator('[data-testid="app-frame"]');

  // The launched patient, inside the iframe, served from the app's own (different) site.
  await expect(frame.getByTestId('patient-name')).toHaveText('Amelia Jeanne Tremblay');
  const src = await frameElement.evaluate((el: HTMLIFrameElement) => el.contentWindow?.location.href ?? el.src).catch(() => null);
  const appFrame = page.frames().find((f) => f.url().startsWith(APP_URL));
  expect(appFrame, `an app frame on ${APP_URL} (iframe src ${src})`).toBeTruthy();
  expect(new URL(appFrame!.url()).pathname).toMatch(/^\/l\/[A-Za-z0-9_-]{43}$/);
  expect(new URL(EHR_URL).hostname).not.toBe(new URL(APP_URL).hostname);

  // Hydrated: the WASM took over the server-rendered page...
  await expect(frame.locator('main[data-hydrated="true"]')).toBeVisible();
  // ...and an interaction that only works with WASM works.
  const toggle = frame.getByTestId('patient-more-toggle');
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await expect(frame.getByTestId('patient-more-ids')).toBeHidden();
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(frame.getByTestId('patient-more-ids')).toBeVisible();
  await expect(frame.getByTestId('signed-in-as')).toContainText('Sarah Chen');
});

test('the app refuses to be framed by a site that is not a registered EHR', async ({ page }) => {
  const response = await page.request.get(APP_URL + '/');
  const csp = response.headers()['content-security-policy'];
  expect(csp).toContain(`frame-ancestors ${EHR_URL}`);
  expect(csp).not.toContain('unsafe-inline');
  expect(response.headers()['referrer-policy']).toBe('same-origin');
  expect(response.headers()['x-content-type-options']).toBe('nosniff');
});
