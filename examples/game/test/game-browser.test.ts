/// <reference lib="dom" />
/**
 * The game page in headless Chromium (Debian's, over CDP, the client package's fixture):
 * it loads the browser build from one ESM import, joins a seat, draws, shows RTT and the
 * clock offset, and the arrow key moves its player on the authoritative server.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBrowserBuild } from '@vigil/client/build';
import type { Page } from 'playwright-core';
import { startChromium, type Chromium } from '../../../packages/client/test/browser/fixtures/chromium.js';
import { GameServer } from '../src/game-server.js';

const REPO = join(__dirname, '../../..');

interface PageGlobals {
  game: { seat: number; inputs: number; state: { tick: number; players: { seat: number; x: number; y: number; rtt: number }[] } | null };
}

describe('game page in Chromium', () => {
  let game: GameServer | null = null;
  let browser: Chromium | null = null;
  let page: Page | null = null;

  beforeAll(async () => {
    game = new GameServer({ port: 0, heartbeat: { intervalMs: 200, timeoutMs: 800 }, browserBundle: await ensureBrowserBuild(), random: () => 0.5 });
    await game.listen();
    browser = await startChromium();
  }, 60_000);

  afterAll(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close();
    await game?.close();
  }, 30_000);

  it('loads, joins a seat, shows RTT and the clock offset, and the arrow key moves the player on the server', async () => {
    page = await browser!.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${game!.origin}/?id=browser-player`);
    await page.waitForSelector('body[data-state="alive"][data-seat="0"]', { timeout: 10_000 });
    await page.waitForFunction(() => ((window as unknown as PageGlobals).game.state?.tick ?? 0) > 0, undefined, { timeout: 5000 });
    await page.waitForFunction(() => Number(document.getElementById('rtt')?.textContent) > 0, undefined, { timeout: 5000 });
    await page.waitForFunction(() => Number.isFinite(Number(document.getElementById('offset')?.textContent)), undefined, { timeout: 5000 });
    expect(game!.match.player('browser-player')).toMatchObject({ seat: 0, x: 800, y: 500 });
    await page.keyboard.down('ArrowRight');
    await page.waitForFunction(() => ((window as unknown as PageGlobals).game.state?.players[0]?.x ?? 0) > 850, undefined, { timeout: 5000 });
    await page.keyboard.up('ArrowRight');
    const player = game!.match.player('browser-player')!;
    expect(player.x).toBeGreaterThan(850);
    expect(player.y).toBe(500);
    expect(player.lastSeq).toBe(2);
    expect(await page.evaluate(() => (window as unknown as PageGlobals).game.inputs)).toBe(2);
    expect(errors).toEqual([]);
    mkdirSync(join(REPO, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(REPO, 'test-output/game.png') });
  }, 30_000);
});
