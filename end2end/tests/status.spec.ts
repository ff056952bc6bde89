import { test, expect, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { APP_URL, EHR_URL } from '../playwright.config';
import { expectAccessible, fillReferral } from './helpers';

const ROOT = path.resolve(__dirname, '../..');
const PASSWORD = 'e2e intake desk passphrase';

/** Creates an intake console account with the real CLI, on the running server's database. */
function staffAccount(username: string) {
  execFileSync(path.join(ROOT, 'target/debug/server'), ['staff', 'add', username, '--name', 'Nurse Kim'], {
    cwd: ROOT,
    env: { ...process.env, EREFERRAL_DATA_DIR: 'target/e2e-data', EREFERRAL_STAFF_PASSWORD: PASSWORD, EREFERRAL_SANDBOX: 'on' },
  });
}

async function modalFrame(page: Page) {
  const handle = await page.getByTestId('app-frame').elementHandle();
  return (await handle!.contentFrame())!;
}

test('a clinician submits, staff accept and book, and the clinician sees both on the status page', async ({ page, browser }) => {
  // The clinician refers Zoë from the EHR.
  await page.goto(EHR_URL + '/');
  await page.getByTestId('refer-modal-pat-2').click();
  let frame = await modalFrame(page);
  await expect(frame.locator('main[data-hydrated="true"]')).toBeVisible();
  await fillReferral(frame);
  await frame.getByTestId('send-referral').click();
  await expect(page.getByTestId('app-modal')).toHaveCount(0);

  // The service's intake nurse signs in, accepts it and books an appointment.
  staffAccount('e2e.nurse');
  const staff = await (await browser.newContext()).newPage();
  await staff.goto(APP_URL + '/console');
  await expect(staff).toHaveURL(/\/console\/login$/);
  await staff.getByLabel('Username').fill('e2e.nurse');
  await staff.getByLabel('Password').fill(PASSWORD);
  await staff.getByTestId('sign-in').click();
  const row = staff.getByTestId('queue-row').filter({ hasText: 'Zoë Ndiaye-Côté' }).first();
  await row.getByRole('link').click();
  await expectAccessible(staff, 'console referral');
  await staff.getByTestId('action-accept').click();
  await expect(staff.getByTestId('detail-status')).toHaveText('Accepted');
  await staff.getByLabel('Date').fill('2026-12-03');
  await staff.getByLabel('Time').fill('09:30');
  await staff.getByLabel('Location').fill('Clinic B, room 4');
  await staff.getByTestId('action-book').click();
  await expect(staff.getByTestId('detail-status')).toHaveText('Appointment booked');

  // Back in the EHR, the clinician opens the patient's referrals.
  await page.getByTestId('referrals-pat-2').click();
  frame = await modalFrame(page);
  const status = frame.getByTestId('status-row').first();
  await expect(status.getByTestId('status-text')).toHaveText('Appointment booked');
  await status.getByRole('link').click();
  await expect(frame.getByTestId('appointment')).toContainText('Clinic B, room 4');
  const events = frame.getByTestId('timeline-event');
  await expect(events.filter({ hasText: 'accepted' })).toHaveCount(1);
  await expect(events.filter({ hasText: 'booked' })).toHaveCount(1);
  await expect(events.filter({ hasText: 'by Nurse Kim' })).toHaveCount(2);
});
