import { expect, Frame, FrameLocator, Page, APIRequestContext } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { EHR_URL } from '../playwright.config';

export const DIABETES = 'svc-diabetes-prevention::http://snomed.info/sct|736379004';

type Surface = Page | Frame | FrameLocator;

/** Creates a launch at the sandbox EHR directly (as its page would) and returns its URL. */
export async function createLaunch(request: APIRequestContext, body: Record<string, unknown>): Promise<string> {
  const r = await request.post(EHR_URL + '/ehr/launches', { data: { mode: 'tab', web_messaging: false, ...body } });
  expect(r.ok()).toBeTruthy();
  return (await r.json()).launch_url as string;
}

/** Fills every step with pointer and typing, ending on the review step. */
export async function fillReferral(s: Surface, opts: { attach?: boolean } = {}) {
  await s.locator(`input[name="pick"][value="${DIABETES}"]`).check();
  await s.getByTestId('continue').click();
  await expect(s.locator('#step-heading')).toHaveText('Reason for referral');
  await s.locator('#reason').fill('Prediabetes, HbA1c 6.2% in October');
  await s.getByTestId('continue').click();
  await expect(s.locator('#step-heading')).toHaveText('Attachments');
  if (opts.attach) {
    await s.locator('#file').setInputFiles({ name: 'lab-results.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% test\n') });
    await s.getByRole('button', { name: 'Attach file' }).click();
    await expect(s.getByTestId('attachment-list')).toContainText('lab-results.pdf');
  }
  await s.getByTestId('continue').click();
  await expect(s.locator('#step-heading')).toHaveText('Patient consent');
  await s.locator('#consent_decision-permit').check();
  await s.locator('#consent_by-patient').check();
  await s.locator('#consent_date').fill('2026-11-02');
  await s.getByTestId('continue').click();
  await expect(s.locator('#step-heading')).toHaveText('Routing and authorization');
  await s.getByTestId('continue').click();
  await expect(s.locator('#step-heading')).toHaveText('Review and send');
}

/** No serious or critical accessibility violation on the page as it is now. */
export async function expectAccessible(page: Page, label: string) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), label).toEqual([]);
}

/** Presses Tab until the focused element in `frame` matches `selector` (keyboard reachability). */
export async function tabTo(page: Page, frame: Frame, selector: string, max = 120) {
  for (let i = 0; i < max; i++) {
    if (await frame.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`could not reach ${selector} with Tab`);
}

/** Presses ArrowDown within a radio group until `selector` is focused (and so checked). */
export async function arrowTo(page: Page, frame: Frame, selector: string, max = 40) {
  for (let i = 0; i < max; i++) {
    if (await frame.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
    await page.keyboard.press('ArrowDown');
  }
  throw new Error(`could not reach ${selector} with the arrow keys`);
}

export async function ehrEvents(page: Page) {
  return page.getByTestId('ehr-events');
}
