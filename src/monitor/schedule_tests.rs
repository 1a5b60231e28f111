//! The scheduler on a virtual clock: no drift, randskew bounds, budget, failed cadence,
//! hung checks; thousands of simulated hours per test.

use super::schedule::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const HOUR: u64 = 3_600_000;

fn timing(interval: u64, randskew: u64) -> Timing {
    Timing {
        interval,
        failed_interval: interval / 4,
        retry_interval: interval / 10,
        randskew,
        timeout: interval / 2,
    }
}

/// Runs the scheduler until `end`; `duration(id, n)` is how long the n-th run of a check takes
/// (capped at its timeout, as the shell's timeout does). Returns every dispatch as (id, time).
fn simulate(
    s: &mut Scheduler,
    end: u64,
    mut duration: impl FnMut(CheckId, u64) -> u64,
) -> Vec<(CheckId, u64)> {
    let mut running: BinaryHeap<Reverse<(u64, CheckId)>> = BinaryHeap::new();
    let mut out = Vec::new();
    let mut runs = std::collections::HashMap::new();
    let mut now = 0;
    loop {
        while let Some(d) = s.poll_due(now) {
            let n = runs.entry(d.id).or_insert(0u64);
            let took = duration(d.id, *n).min(d.deadline - now);
            *n += 1;
            assert!(s.stats().in_flight <= 1_000_000);
            running.push(Reverse((now + took, d.id)));
            out.push((d.id, now));
        }
        let wake = [s.poll_timeout(), running.peek().map(|Reverse((t, _))| *t)]
            .into_iter()
            .flatten()
            .min();
        let Some(wake) = wake else { break };
        if wake > end {
            break;
        }
        now = wake.max(now);
        while let Some(Reverse((t, id))) = running.peek().copied() {
            if t > now {
                break;
            }
            running.pop();
            s.complete(id, now);
        }
    }
    out
}

#[test]
fn no_drift_over_two_thousand_hours() {
    let mut s = Scheduler::new(16, 7);
    let a = s.add_at(timing(60_000, 0), 1_234);
    let b = s.add_at(timing(47_000, 0), 0);
    let runs = simulate(&mut s, 2_000 * HOUR, |_, n| 300 + (n % 7) * 100);
    let a_runs: Vec<u64> = runs.iter().filter(|r| r.0 == a).map(|r| r.1).collect();
    let b_runs: Vec<u64> = runs.iter().filter(|r| r.0 == b).map(|r| r.1).collect();
    assert_eq!(a_runs.len() as u64, (2_000 * HOUR - 1_234) / 60_000 + 1);
    for (k, t) in a_runs.iter().enumerate() {
        assert_eq!(*t, 1_234 + k as u64 * 60_000, "run {k} of a drifted");
    }
    for (k, t) in b_runs.iter().enumerate() {
        assert_eq!(*t, k as u64 * 47_000, "run {k} of b drifted");
    }
    assert_eq!(s.stats().missed, 0);
    assert_eq!(s.stats().max_lateness, 0);
}

#[test]
fn randskew_stays_within_bounds_and_averages_out() {
    let mut s = Scheduler::new(16, 42);
    let id = s.add_at(timing(60_000, 5_000), 0);
    let runs = simulate(&mut s, 5_000 * HOUR, |_, _| 50);
    assert_eq!(runs.len() as u64, 5_000 * HOUR / 60_000 + 1);
    let offsets: Vec<i64> = runs
        .iter()
        .enumerate()
        .filter(|(k, _)| *k > 0)
        .map(|(k, (rid, t))| {
            assert_eq!(*rid, id);
            *t as i64 - k as i64 * 60_000
        })
        .collect();
    let min = offsets.iter().min().copied().unwrap_or(0);
    let max = offsets.iter().max().copied().unwrap_or(0);
    assert!(
        min >= -5_000 && max <= 5_000,
        "skew out of bounds: {min}..{max}"
    );
    assert!(
        min < -4_900 && max > 4_900,
        "skew does not use its range: {min}..{max}"
    );
    let mean = offsets.iter().sum::<i64>() as f64 / offsets.len() as f64;
    assert!(mean.abs() < 100.0, "skew is biased: mean {mean}");
    assert_eq!(s.stats().missed, 0);
}

#[test]
fn the_same_seed_gives_the_same_schedule() {
    let go = |seed| {
        let mut s = Scheduler::new(4, seed);
        for _ in 0..20 {
            s.add(timing(1_000, 300), 0);
        }
        simulate(&mut s, 100 * 1_000, |_, _| 10)
    };
    assert_eq!(go(1), go(1));
    assert_ne!(go(1), go(2));
}

#[test]
fn first_runs_are_spread_over_the_interval() {
    let mut s = Scheduler::new(10_000, 3);
    let ids: Vec<CheckId> = (0..10_000).map(|_| s.add(timing(1_000, 0), 0)).collect();
    let mut buckets = [0u32; 10];
    for id in ids {
        let due = s.next_due(id).unwrap_or(u64::MAX);
        assert!(due < 1_000);
        buckets[(due / 100) as usize] += 1;
    }
    for b in buckets {
        assert!((800..1_200).contains(&b), "uneven spread: {buckets:?}");
    }
}

#[test]
fn a_hung_check_never_delays_the_others() {
    let mut s = Scheduler::new(64, 9);
    let hung = s.add_at(timing(1_000, 0), 0);
    let others: Vec<CheckId> = (0..50)
        .map(|i| s.add_at(timing(1_000, 0), i * 10))
        .collect();
    let runs = simulate(&mut s, 1_000 * HOUR / 100, |id, _| {
        if id == hung {
            u64::MAX
        } else {
            5
        }
    });
    for id in others {
        let times: Vec<u64> = runs.iter().filter(|r| r.0 == id).map(|r| r.1).collect();
        for w in times.windows(2) {
            assert_eq!(w[1] - w[0], 1_000);
        }
    }
    // The hung check times out after 500 ms and still runs every interval.
    let hung_runs = runs.iter().filter(|r| r.0 == hung).count() as u64;
    assert_eq!(hung_runs, 10 * HOUR / 1_000 + 1);
    assert_eq!(s.stats().missed, 0);
}

#[test]
fn a_check_slower_than_its_interval_skips_intervals_instead_of_piling_up() {
    let mut s = Scheduler::new(8, 1);
    let t = Timing {
        interval: 1_000,
        failed_interval: 1_000,
        retry_interval: 1_000,
        randskew: 0,
        timeout: 10_000,
    };
    let id = s.add_at(t, 0);
    let runs = simulate(&mut s, 100_000, |_, _| 2_500);
    // Runs at 0, 3000, 6000, ...: each run covers three intervals, two of them missed.
    let times: Vec<u64> = runs.iter().filter(|r| r.0 == id).map(|r| r.1).collect();
    assert_eq!(&times[..4], &[0, 3_000, 6_000, 9_000]);
    assert_eq!(s.stats().missed, 2 * (times.len() as u64 - 1) + 1);
}

#[test]
fn the_budget_caps_checks_in_flight() {
    let mut s = Scheduler::new(10, 5);
    for _ in 0..100 {
        s.add_at(timing(1_000, 0), 0);
    }
    let mut max_in_flight = 0;
    let mut now = 0;
    let mut running = Vec::new();
    while now < 60_000 {
        while let Some(d) = s.poll_due(now) {
            running.push((now + 50, d.id));
            max_in_flight = max_in_flight.max(s.stats().in_flight);
        }
        now += 10;
        running.retain(|(t, id)| {
            if *t <= now {
                s.complete(*id, now);
                false
            } else {
                true
            }
        });
    }
    assert_eq!(max_in_flight, 10);
    // 100 checks × 50 ms / 10 slots = 500 ms of work per 1 s interval: nothing is missed.
    assert_eq!(s.stats().missed, 0);
    assert!(s.stats().dispatched >= 5_900);
    assert!(s.stats().max_lateness > 0 && s.stats().max_lateness < 1_000);
}

#[test]
fn failed_cadence_rechecks_faster_then_returns_to_normal() {
    let mut s = Scheduler::new(4, 11);
    let id = s.add_at(timing(20_000, 0), 0);
    assert!(s.poll_due(0).is_some());
    s.complete(id, 100);
    assert_eq!(s.next_due(id), Some(20_000));
    s.set_pace(id, Pace::Failed, 100);
    assert_eq!(s.next_due(id), Some(5_000));
    let mut t = 5_000;
    for _ in 0..5 {
        assert_eq!(s.poll_due(t).map(|d| d.id), Some(id));
        s.complete(id, t + 10);
        t += 5_000;
        assert_eq!(s.next_due(id), Some(t));
    }
    s.set_pace(id, Pace::Normal, t - 4_000);
    assert_eq!(s.next_due(id), Some(t - 5_000 + 20_000));
}

#[test]
fn a_retry_confirms_a_failure_at_its_own_interval_then_fails_or_returns() {
    // interval 20 s, failed 5 s, retry 2 s after the end of each run.
    let mut s = Scheduler::new(4, 11);
    let id = s.add_at(timing(20_000, 0), 0);
    assert!(s.poll_due(0).is_some());
    s.complete(id, 100);
    // A failure reported at 100: the confirming run comes 2 s later.
    s.set_pace(id, Pace::Retry, 100);
    assert_eq!(s.next_due(id), Some(2_100));
    assert_eq!(s.poll_due(2_100).map(|d| d.id), Some(id));
    // A slow run (a timeout): the next retry is 2 s after it ended, nothing missed.
    s.complete(id, 9_100);
    assert_eq!(s.next_due(id), Some(11_100));
    assert_eq!(s.stats().missed, 0);
    assert_eq!(s.poll_due(11_100).map(|d| d.id), Some(id));
    s.complete(id, 11_150);
    // Confirmed down: the failed interval from the last run.
    s.set_pace(id, Pace::Failed, 11_150);
    assert_eq!(s.next_due(id), Some(16_150));
    // Passing again: back to 20 s.
    assert_eq!(s.poll_due(16_150).map(|d| d.id), Some(id));
    s.complete(id, 16_160);
    s.set_pace(id, Pace::Normal, 16_160);
    assert_eq!(s.next_due(id), Some(36_150));
    // A retry asked while the run is still going starts 2 s after it ends.
    assert_eq!(s.poll_due(36_150).map(|d| d.id), Some(id));
    s.set_pace(id, Pace::Retry, 36_200);
    s.complete(id, 36_300);
    assert_eq!(s.next_due(id), Some(38_300));
    // A retry that passes: back to normal from the retry's run.
    assert_eq!(s.poll_due(38_300).map(|d| d.id), Some(id));
    s.complete(id, 38_310);
    s.set_pace(id, Pace::Normal, 38_310);
    assert_eq!(s.next_due(id), Some(58_310));
}

#[test]
fn check_now_runs_at_once_and_restarts_the_cadence() {
    let mut s = Scheduler::new(4, 11);
    let id = s.add_at(timing(10_000, 0), 0);
    assert!(s.poll_due(0).is_some());
    s.complete(id, 5);
    s.check_now(id, 3_333);
    assert_eq!(s.poll_due(3_333).map(|d| d.id), Some(id));
    s.complete(id, 3_400);
    assert_eq!(s.next_due(id), Some(13_333));
    s.remove(id);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_long_interval_runs_first_checks_within_a_second_then_spreads_them() {
    // A cold start with a 10 s interval: every node is checked within the first second (not
    // up to 10 s later), then the cadence spreads the checks evenly over the interval; the
    // second run comes half an interval to one and a half after the first, and none is missed.
    let mut s = Scheduler::new(10_000, 5);
    let ids: Vec<CheckId> = (0..10_000)
        .map(|_| s.add_soon(timing(10_000, 0), 0))
        .collect();
    for id in &ids {
        assert!(s.next_due(*id).unwrap_or(u64::MAX) < 1_000);
    }
    let runs = simulate(&mut s, 30_000, |_, _| 5);
    let mut by_id: std::collections::HashMap<CheckId, Vec<u64>> = Default::default();
    for (id, t) in runs {
        by_id.entry(id).or_default().push(t);
    }
    let mut buckets = [0u32; 10];
    for id in &ids {
        let times = &by_id[id];
        assert!(times.len() >= 2, "{id:?} ran {times:?}");
        let gap = times[1] - times[0];
        assert!((5_000..15_000).contains(&gap), "{times:?}");
        assert_eq!(times[2] - times[1], 10_000, "the cadence drifts: {times:?}");
        buckets[((times[1] % 10_000) / 1_000) as usize] += 1;
    }
    for b in buckets {
        assert!((800..1_200).contains(&b), "uneven spread: {buckets:?}");
    }
    assert_eq!(s.stats().missed, 0);
}

#[test]
fn a_full_budget_gives_no_wake_up_time_so_the_shell_waits_for_a_completion() {
    // Regression: with the budget full, poll_timeout returned a due time in the past, so the
    // shell's timer fired at once, found nothing to dispatch and re-armed: a busy loop until a
    // check completed.
    let mut s = Scheduler::new(1, 9);
    let a = s.add_at(timing(1_000, 0), 0);
    let _b = s.add_at(timing(1_000, 0), 0);
    let d = s.poll_due(0).expect("one dispatch");
    assert!(s.poll_due(5).is_none(), "the budget allows one");
    assert_eq!(s.poll_timeout(), None);
    s.complete(d.id, 10);
    assert_eq!(s.poll_timeout(), Some(0), "the waiting check is due again");
    let next = s.poll_due(10).expect("the second check");
    assert_ne!(next.id, a);
}
