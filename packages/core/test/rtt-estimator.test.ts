import { RTT_HISTORY, RttEstimator } from '../src/rtt-estimator.js';

describe('RttEstimator', () => {
  it('starts empty', () => {
    const e = new RttEstimator();
    expect(e.srtt).toBeNaN();
    expect(e.rttvar).toBeNaN();
    expect(e.last).toBeNaN();
    expect(e.offset).toBeNaN();
    expect(e.count).toBe(0);
    expect(e.samples()).toStrictEqual([]);
    expect(e.rto()).toBeNaN();
  });

  it('takes the first sample as SRTT = R, RTTVAR = R/2 (RFC 6298 §2.2)', () => {
    const e = new RttEstimator();
    e.sample(100);
    expect([e.srtt, e.rttvar, e.last, e.count]).toStrictEqual([100, 50, 100, 1]);
  });

  it('updates RTTVAR with the old SRTT, then SRTT, with α = 1/8 and β = 1/4 (RFC 6298 §2.3)', () => {
    const e = new RttEstimator();
    e.sample(100);
    e.sample(200);
    // RTTVAR = 3/4·50 + 1/4·|100 − 200| = 62.5; SRTT = 7/8·100 + 1/8·200 = 112.5
    expect([e.srtt, e.rttvar, e.last]).toStrictEqual([112.5, 62.5, 200]);
    e.sample(50);
    // RTTVAR = 3/4·62.5 + 1/4·|112.5 − 50| = 62.5; SRTT = 7/8·112.5 + 1/8·50 = 104.6875
    expect([e.srtt, e.rttvar, e.last, e.count]).toStrictEqual([104.6875, 62.5, 50, 3]);
  });

  it('computes rto as SRTT + max(G, 4·RTTVAR)', () => {
    const e = new RttEstimator();
    e.sample(100);
    expect(e.rto()).toBe(300);
    expect(e.rto(500)).toBe(600);
    const zero = new RttEstimator();
    zero.sample(0);
    expect([zero.srtt, zero.rttvar]).toStrictEqual([0, 0]);
    expect(zero.rto()).toBe(1);
    expect(zero.rto(20)).toBe(20);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('ignores sample %p', (bad) => {
    const e = new RttEstimator();
    e.sample(bad);
    expect(e.count).toBe(0);
    expect(e.srtt).toBeNaN();
    e.sample(10);
    e.sample(bad);
    expect([e.srtt, e.rttvar, e.last, e.count]).toStrictEqual([10, 5, 10, 1]);
    expect(e.samples()).toStrictEqual([10]);
  });

  it('samples a pong: RTT from our clock, offset assuming symmetric paths', () => {
    const e = new RttEstimator();
    // Sent at 1000, received at 1100; the peer stamped 5060 at the midpoint (1050) of its clock.
    e.samplePong(1000, 5060, 1100);
    expect([e.srtt, e.last, e.offset]).toStrictEqual([100, 100, 4010]);
    e.samplePong(2000, 1990, 2020);
    expect(e.last).toBe(20);
    expect(e.offset).toBe(-20);
  });

  it('ignores a pong received before it was sent, keeping the offset', () => {
    const e = new RttEstimator();
    e.samplePong(1000, 5060, 1100);
    e.samplePong(3000, 0, 2999);
    expect([e.count, e.last, e.offset]).toStrictEqual([1, 100, 4010]);
  });

  it('keeps the last RTT_HISTORY samples, oldest first', () => {
    expect(RTT_HISTORY).toBe(16);
    const e = new RttEstimator();
    for (let i = 1; i <= 3; i++) e.sample(i);
    expect(e.samples()).toStrictEqual([1, 2, 3]);
    for (let i = 4; i <= 16; i++) e.sample(i);
    expect(e.samples()).toStrictEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    for (let i = 17; i <= 37; i++) e.sample(i);
    expect(e.samples()).toStrictEqual(Array.from({ length: 16 }, (_, i) => i + 22));
    expect(e.count).toBe(37);
  });
});
