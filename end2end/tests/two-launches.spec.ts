import { test, expect, Frame, Page } from '@playwright/test';
import { APP_URL, EHR_URL } from '../playwright.config';

/** The app frame inside the inline container of launch number `index` (0-based, in click order). */
async function appFrame(page: Page, index: number): Promise<Frame> {
  const container = page.getByTestId('inline-app').nth(index);
  const handle = await container.locator('iframe[data-testid="app-frame"]').elementHandle();
  const frame = await handle!.contentFrame();
  expect(frame).toBeTruthy();
  return frame!;
}

async function expectPatient(frame: Frame, name: string, other: string) {
  await expect(frame.getByTestId('patient-name')).toHaveText(name);
  await expect(frame.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(frame.locator('body')).not.toContainText(other);
}

test('two patients launched in two iframes of one page each keep their own patient, also after reloads', async ({ page }) => {
  await page.goto(EHR_URL + '/');
  await page.getByTestId('refer-inline-pat-1').click();
  await expect(page.getByTestId('inline-app')).toHaveCount(1);
  const first = await appFrame(page, 0);
  await expectPatient(first, 'Amelia Jeanne Tremblay', 'Wójcik');

  await page.getByTestId('refer-inline-pat-3').click();
  await expect(page.getByTestId('inline-app')).toHaveCount(2);
  const second = await appFrame(page, 1);
  await expectPatient(second, 'Łukasz Wójcik', 'Tremblay');

  // Both frames are cross-site app frames with different launch sessions.
  expect(first.url().startsWith(APP_URL + '/l/')).toBe(true);
  expect(second.url().startsWith(APP_URL + '/l/')).toBe(true);
  expect(first.url()).not.toBe(second.url());

  // Reload each frame (as a clinician pressing F5 inside it would): each still shows its own patient.
  for (const [frame, name, other] of [
    [first, 'Amelia Jeanne Tremblay', 'Wójcik'],
    [second, 'Łukasz Wójcik', 'Tremblay'],
  ] as const) {
    const url = frame.url();
    await frame.evaluate(() => location.reload());
    await frame.waitForURL(url);
    await expectPatient(frame, name, other);
  }

  // No token reaches the browser: nothing token-like in either frame's storage or markup.
  for (const frame of [first, second]) {
    const exposed = await frame.evaluate(() => {
      // Browsers that block third-party storage deny access outright: then nothing is stored.
      const count = (get: () => Storage) => {
        try {
          return Object.keys(get()).length;
        } catch {
          return 0;
        }
      };
      return {
        local: count(() => localStorage),
        session: count(() => sessionStorage),
        cookies: document.cookie,
        html: document.documentElement.outerHTML,
      };
    });
    expect(exposed.local).toBe(0);
    expect(exposed.session).toBe(0);
    expect(exposed.cookies).toBe(''); // the binding cookie is HttpOnly
    expect(exposed.html).not.toMatch(/access_token|refresh_token|Bearer /);
  }
});
