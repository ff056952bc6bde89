import { test, expect, Frame, Page } from '@playwright/test';
import { APP_URL, EHR_URL } from '../playwright.config';
import { arrowTo, createLaunch, DIABETES, expectAccessible, fillReferral, tabTo } from './helpers';

async function modalFrame(page: Page): Promise<Frame> {
  const handle = await page.getByTestId('app-frame').elementHandle();
  const frame = await handle!.contentFrame();
  await expect(frame!.locator('main[data-hydrated="true"]')).toBeVisible();
  return frame!;
}

async function inboxRows(page: Page): Promise<number> {
  await page.goto(EHR_URL + '/inbox');
  return page.getByTestId('inbox-row').count();
}

test('a referral is completed in the modal, delivered to the EHR once, and the EHR closes the modal on ui.done', async ({ page }) => {
  const before = await inboxRows(page);
  await page.goto(EHR_URL + '/');
  await page.getByTestId('refer-modal-pat-1').click();
  const frame = await modalFrame(page);
  await fillReferral(frame, { attach: true });
  await expect(frame.getByTestId('review-attachments')).toHaveText('lab-results.pdf');
  await frame.getByTestId('send-referral').click();
  // The confirmation is shown once the EHR has the message; then ui.done goes to the EHR at its
  // messaging origin, and the EHR accepts it and closes the modal.
  await expect(page.getByTestId('ehr-events')).toContainText('ui.done accepted');
  await expect(page.getByTestId('app-modal')).toHaveCount(0);
  // The EHR's inbox has exactly one new message: this referral, for this patient, received once.
  expect(await inboxRows(page)).toBe(before + 1);
  const newest = page.getByTestId('inbox-row').first();
  await expect(newest).toContainText('notify-add-service-request');
  await expect(newest).toContainText('Amelia Jeanne Tremblay');
  await expect(newest.getByTestId('times-received')).toHaveText('1');
});

test('keyboard only: a referral in an inline frame, closed with a close request', async ({ page }) => {
  await page.goto(EHR_URL + '/');
  await page.getByTestId('opt-web-messaging').uncheck();
  await page.getByTestId('refer-inline-pat-2').focus();
  await page.keyboard.press('Enter');
  const handle = await page.getByTestId('inline-app').locator('iframe').elementHandle();
  const frame = (await handle!.contentFrame())!;
  await expect(frame.locator('main[data-hydrated="true"]')).toBeVisible();

  await tabTo(page, frame, 'input[name="pick"]');
  await arrowTo(page, frame, `input[name="pick"][value="${DIABETES}"]`);
  await tabTo(page, frame, '[data-testid="continue"]');
  await page.keyboard.press('Enter');
  await expect(frame.locator('#step-heading')).toHaveText('Reason for referral');
  await tabTo(page, frame, '#reason');
  await page.keyboard.type('Elevated fasting glucose twice this year');
  await tabTo(page, frame, '[data-testid="continue"]');
  await page.keyboard.press('Enter');
  await expect(frame.locator('#step-heading')).toHaveText('Attachments');
  await tabTo(page, frame, '[data-testid="continue"]');
  await page.keyboard.press('Enter');
  await expect(frame.locator('#step-heading')).toHaveText('Patient consent');
  await tabTo(page, frame, 'input[name="consent_decision"]');
  await page.keyboard.press('Space');
  await tabTo(page, frame, 'input[name="consent_by"]');
  await page.keyboard.press('Space');
  await tabTo(page, frame, '#consent_date');
  await page.keyboard.type('11022026'); // a date input takes digits in the locale's order (en-US: mm dd yyyy)
  await tabTo(page, frame, '[data-testid="continue"]');
  await page.keyboard.press('Enter');
  await expect(frame.locator('#step-heading')).toHaveText('Routing and authorization');
  await tabTo(page, frame, '[data-testid="continue"]');
  await page.keyboard.press('Enter');
  await expect(frame.locator('#step-heading')).toHaveText('Review and send');
  await expect(frame.getByTestId('review-consent')).toHaveText('The patient agrees');
  await tabTo(page, frame, '[data-testid="send-referral"]');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('ehr-events')).toContainText(/close request: submitted ServiceRequest\/[0-9a-f-]{36}/);
  await expect(page.getByTestId('inline-app')).toHaveCount(0);
});

test('an EHR rejecting the notification: the clinician reads why, then closes the modal', async ({ page, request }) => {
  const set = (fault: string) =>
    request.post(EHR_URL + '/admin/faults', { data: { process_message: fault }, headers: { accept: 'application/json' } });
  expect((await set('reject')).ok()).toBeTruthy();
  try {
    await page.setViewportSize({ width: 800, height: 600 });
    await page.goto(EHR_URL + '/');
    await page.getByTestId('refer-modal-pat-4').click();
    const frame = await modalFrame(page);
    await fillReferral(frame);
    await frame.getByTestId('send-referral').click();
    const status = frame.getByTestId('delivery-status');
    await expect(status).toHaveAttribute('data-state', 'rejected');
    await expect(status).toContainText('patient not found in EHR');
    // The modal stays open until the clinician has read it.
    await expect(page.getByTestId('app-modal')).toHaveCount(1);
    // The close button is a real, focusable button; it is pressed from inside the frame, since the
    // EHR removes the frame while a Playwright key press would still be waiting on it.
    const close = frame.getByTestId('close-now');
    await expect(close).toBeVisible();
    await close.focus();
    await frame.evaluate(() => (document.activeElement as HTMLElement).click());
    await expect(page.getByTestId('ehr-events')).toContainText('ui.done accepted');
    await expect(page.getByTestId('app-modal')).toHaveCount(0);
  } finally {
    await set('ok');
  }
});

test('abandoning: cancel with confirmation, nothing sent, the EHR told', async ({ page }) => {
  const before = await inboxRows(page);
  await page.goto(EHR_URL + '/');
  await page.getByTestId('opt-web-messaging').uncheck();
  await page.getByTestId('refer-modal-pat-3').click();
  const frame = await modalFrame(page);
  await frame.getByTestId('cancel-referral').click();
  await frame.getByTestId('keep-working').click();
  await expect(frame.locator('#step-heading')).toHaveText('Choose the service');
  await frame.getByTestId('cancel-referral').click();
  await frame.getByTestId('confirm-cancel').click();
  await expect(page.getByTestId('ehr-events')).toContainText('close request: abandoned');
  await expect(page.getByTestId('app-modal')).toHaveCount(0);
  // Nothing new reached the EHR's $process-message inbox (tests run one at a time).
  expect(await inboxRows(page)).toBe(before);
});

test('with JavaScript disabled a referral can still be completed with plain forms', async ({ browser, request }) => {
  const url = await createLaunch(request, { patient_id: 'pat-4' });
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(url);
  await expect(page.locator('#step-heading')).toHaveText('Choose the service');
  await expect(page.locator('main')).toHaveAttribute('data-hydrated', 'false');
  // Search works as a plain GET form.
  await page.getByLabel('Search services').fill('diabetes');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByTestId('service-count')).toHaveText('1 service');
  // A refused step shows its errors next to the fields, input kept.
  await page.locator(`input[name="pick"][value="${DIABETES}"]`).check();
  await page.getByTestId('continue').click();
  await page.getByLabel('Clinical notes').fill('No scripts here');
  await page.getByTestId('continue').click();
  await expect(page.getByTestId('error-summary')).toContainText('Enter the reason for referral.');
  await expect(page.getByLabel('Clinical notes')).toHaveValue('No scripts here');
  await page.locator('#reason').fill('Family history of type 2 diabetes');
  await page.getByTestId('continue').click();
  await page.locator('#file').setInputFiles({ name: 'letter.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]) });
  await page.getByRole('button', { name: 'Attach file' }).click();
  await expect(page.getByTestId('attachment-list')).toContainText('letter.png');
  await page.getByTestId('continue').click();
  await page.locator('#consent_decision-permit').check();
  await page.locator('#consent_by-patient').check();
  await page.locator('#consent_date').fill('2026-11-02');
  await page.getByTestId('continue').click();
  await page.getByTestId('continue').click();
  await page.getByTestId('send-referral').click();
  await expect(page.getByTestId('referral-sent')).toBeVisible();
  await expect(page.getByTestId('referral-number')).toHaveText(/^ER-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
  await expect(page.getByTestId('close-status')).toHaveText('You can now close this window or tab.');
  await context.close();
});

test('link mode: after abandoning, the app returns to the EHR URL given at launch', async ({ page }) => {
  await page.goto(EHR_URL + '/');
  await page.getByTestId('refer-link-pat-1').click();
  await page.waitForURL(new RegExp('^' + APP_URL + '/l/'));
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await page.getByTestId('cancel-referral').click();
  await page.getByTestId('confirm-cancel').click();
  await expect(page.getByTestId('referral-abandoned')).toBeVisible();
  await page.waitForURL(new RegExp('^' + EHR_URL + '/\\?returned='));
  await expect(page.getByTestId('returned-banner')).toBeVisible();
});

test('new-tab mode: the opener EHR gets the close request; a tab of its own says it can be closed', async ({ page, context, request }) => {
  await page.goto(EHR_URL + '/');
  await page.getByTestId('opt-web-messaging').uncheck();
  const [tab] = await Promise.all([page.waitForEvent('popup'), page.getByTestId('refer-tab-pat-2').click()]);
  await expect(tab.locator('main[data-hydrated="true"]')).toBeVisible();
  await tab.getByTestId('cancel-referral').click();
  const closed = tab.waitForEvent('close');
  await tab.getByTestId('confirm-cancel').click();
  await expect(page.getByTestId('ehr-events')).toContainText('close request: abandoned');
  await closed;

  // Opened without an opener (e.g. noopener), the app cannot ask anyone: it says so plainly.
  const url = await createLaunch(request, { patient_id: 'pat-2' });
  const lone = await context.newPage();
  await lone.goto(url);
  await expect(lone.locator('main[data-hydrated="true"]')).toBeVisible();
  await lone.getByTestId('cancel-referral').click();
  await lone.getByTestId('confirm-cancel').click();
  await expect(lone.getByTestId('close-status')).toHaveText('You can close this tab.');
});

test('every step is accessible (axe: no serious or critical violation) in an 800x600 window', async ({ browser, request }) => {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  const page = await context.newPage();
  await page.goto(await createLaunch(request, { patient_id: 'pat-5', draft_service_request_id: null }));
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expectAccessible(page, 'service');
  await page.getByTestId('continue').click(); // refused: errors shown
  await expect(page.getByTestId('error-summary')).toBeVisible();
  await expectAccessible(page, 'service with errors');
  await page.locator(`input[name="pick"][value="${DIABETES}"]`).check();
  await page.getByTestId('continue').click();
  for (const [heading, label] of [
    ['Reason for referral', 'details'],
    ['Attachments', 'attachments'],
    ['Patient consent', 'consent'],
    ['Routing and authorization', 'routing'],
  ]) {
    await expect(page.locator('#step-heading')).toHaveText(heading);
    await expectAccessible(page, label);
    if (label === 'details') await page.locator('#reason').fill('Prediabetes');
    if (label === 'consent') {
      await page.locator('#consent_decision-permit').check();
      await page.locator('#consent_by-patient').check();
      await page.locator('#consent_date').fill('2026-11-02');
    }
    await page.getByTestId('continue').click();
  }
  await expect(page.locator('#step-heading')).toHaveText('Review and send');
  await expectAccessible(page, 'review');
  // Nothing needs horizontal scrolling in the modal's size.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(800);
  await page.getByTestId('send-referral').click();
  await expect(page.getByTestId('referral-sent')).toBeVisible();
  await expectAccessible(page, 'sent');
  await context.close();
});

test('inactivity: a warning, then the referral is saved and closed as not sent', async ({ browser, request }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.clock.install();
  await page.goto(await createLaunch(request, { patient_id: 'pat-1' }));
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await page.locator(`input[name="pick"][value="${DIABETES}"]`).check();
  await page.getByTestId('continue').click();
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await page.locator('#reason').fill('Typed just before walking away');
  await page.clock.fastForward('15:01');
  await expect(page.getByTestId('inactivity-dialog')).toBeVisible();
  await page.getByRole('button', { name: 'Continue working' }).click();
  await expect(page.getByTestId('inactivity-dialog')).toBeHidden();
  await page.clock.fastForward('17:01');
  await expect(page.getByTestId('referral-abandoned')).toBeVisible();
  await expect(page.getByTestId('referral-abandoned')).toContainText('inactivity');
  // What was typed was saved first: a new launch offers it back.
  const again = await context.newPage();
  await again.goto(await createLaunch(request, { patient_id: 'pat-1' }));
  await expect(again.getByTestId('resume-offer')).toContainText('Typed just before walking away');
  await context.close();
});

test('unsaved typing triggers the leave-page warning', async ({ browser, request }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.clock.install();
  await page.goto(await createLaunch(request, { patient_id: 'pat-3' }));
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await page.getByLabel('Search services').focus();
  await page.locator(`input[name="pick"][value="${DIABETES}"]`).check();
  let warned = false;
  page.on('dialog', async (d) => {
    warned = d.type() === 'beforeunload';
    await d.dismiss();
  });
  await page.close({ runBeforeUnload: true });
  await expect.poll(() => warned).toBe(true);
  await context.close();
});

test('with scripts, fields are checked as the clinician leaves them and follow-up fields appear when they apply', async ({ browser, request }) => {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  const page = await context.newPage();
  await page.goto(await createLaunch(request, { patient_id: 'pat-2' }));
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await page.locator(`input[name="pick"][value="${DIABETES}"]`).check();
  await page.getByTestId('continue').click();
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await page.locator('#reason').focus();
  await page.keyboard.press('Tab');
  await expect(page.locator('#error-reason')).toHaveText('Enter the reason for referral.');
  await expect(page.locator('#reason')).toHaveAttribute('aria-invalid', 'true');
  await page.locator('#reason').fill('Borderline HbA1c');
  await page.keyboard.press('Tab');
  await expect(page.locator('#error-reason')).toBeHidden();
  await expect(page.getByTestId('save-status')).toHaveText('Draft saved');
  await page.getByTestId('continue').click();
  await page.getByTestId('continue').click();
  await expect(page.locator('#step-heading')).toHaveText('Patient consent');
  const related = page.locator('[data-show-when="consent_by=related"]');
  await expect(related).toBeHidden();
  await page.locator('#consent_by-related').check();
  await expect(related).toBeVisible();
  await expect(page.locator('#consent_related_name')).toBeVisible();
  await page.locator('#consent_by-patient').check();
  await expect(related).toBeHidden();
  // The cancel confirmation and the outcome are accessible too.
  await page.getByTestId('cancel-referral').click();
  await expectAccessible(page, 'cancel confirmation');
  await page.getByTestId('confirm-cancel').click();
  await expect(page.getByTestId('referral-abandoned')).toBeVisible();
  await expectAccessible(page, 'not sent');
  await context.close();
});
