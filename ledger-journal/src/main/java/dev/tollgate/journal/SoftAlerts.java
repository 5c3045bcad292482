package dev.tollgate.journal;

import dev.tollgate.journal.JournalEvent.AlertRaised;
import dev.tollgate.journal.JournalEvent.AlertRaised.Window;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.Balances;
import dev.tollgate.metering.SpendWindows;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The soft alerts of a {@link Ledger}: a key whose spend in a window reached its alert percentage of the window's cap,
 * and an account whose balance fell below its low-balance threshold. Checked after every settlement, raised once per
 * crossing: the key's windows are claimed in its {@link SpendWindows} slot, an account's alert by one compare-and-set
 * here, so of concurrent settlements that cross one exactly one raises it. A raised alert is an {@link AlertRaised}
 * record in the journal (what the alert webhook delivers) and a call of the {@link Listener} (the log line and the metric).
 *
 * <p>The check is condition-based, not edge-based: a window at or past its alert that was never raised is raised by the
 * next settlement, so an alert whose record a crash lost is raised again after the restart, and never twice when it was
 * recorded (recovery restores the claims from the journal).
 *
 * <p>An account's balance here is what it holds with its reservations counted as its own (credited minus debited), so
 * a large request in flight does not raise and clear it; money added that takes the balance back to the threshold re-arms it.
 */
public final class SoftAlerts {
    /** Told of every alert raised on this node, on the thread that settled. Must not block. */
    public interface Listener {
        void raised(AlertRaised alert);
    }

    private static final int ARMED = 0;
    private static final int RAISED = 1;
    private static final SpendWindows.Window[] CAP_WINDOWS = SpendWindows.Window.values();

    private final Balances balances;
    private final SpendWindows spendWindows;
    private final JournalWriter writer;
    /** By account slot: the low-balance threshold in micros, -1 for none. */
    private final AtomicLongArray thresholdMicros;
    /** By account slot: {@link #ARMED} or {@link #RAISED}. */
    private final AtomicIntegerArray balanceAlertState;
    /** By account slot: how many low-balance alerts were raised, the period of the next one. */
    private final AtomicIntegerArray balanceAlertsRaised;
    private volatile Listener listener = alert -> { };

    SoftAlerts(Balances balances, SpendWindows spendWindows, JournalWriter writer) {
        this.balances = balances;
        this.spendWindows = spendWindows;
        this.writer = writer;
        this.thresholdMicros = new AtomicLongArray(balances.capacity());
        for (int slot = 0; slot < balances.capacity(); slot++) {
            thresholdMicros.set(slot, -1);
        }
        this.balanceAlertState = new AtomicIntegerArray(balances.capacity());
        this.balanceAlertsRaised = new AtomicIntegerArray(balances.capacity());
    }

    void listener(Listener newListener) {
        listener = java.util.Objects.requireNonNull(newListener);
    }

    /** Checks the key's windows and its account's balance after one of its settlements; nothing to do costs two reads. */
    void afterSettle(ApiKeys.ApiKey key, long nowMs) {
        int spendSlot = key.spendSlot();
        if (spendSlot >= 0) {
            int due = spendWindows.alertsDue(spendSlot, nowMs);
            if (due != 0) {
                raiseDue(key, spendSlot, due, nowMs);
            }
        }
        int accountSlot = key.accountSlot();
        long threshold = thresholdMicros.get(accountSlot);
        if (threshold >= 0) {
            checkBalance(key, accountSlot, threshold, nowMs);
        }
    }

    private void raiseDue(ApiKeys.ApiKey key, int slot, int due, long nowMs) {
        for (SpendWindows.Window window : CAP_WINDOWS) {
            int period = period(window, nowMs);
            if ((due & 1 << window.ordinal()) != 0 && spendWindows.claimAlert(slot, window, period)) {
                long capMicros = spendWindows.cap(slot, window);
                raise(new AlertRaised(nowMs, Window.valueOf(window.name()), key.accountId(), key.sha256Hex(), period, capMicros,
                        thresholdOf(capMicros, spendWindows.alertPercent(slot)), spendWindows.used(slot, window, period)));
            }
        }
    }

    private void checkBalance(ApiKeys.ApiKey key, int accountSlot, long threshold, long nowMs) {
        long balance = balanceMicros(accountSlot);
        if (balance < threshold && balanceAlertState.compareAndSet(accountSlot, ARMED, RAISED)) {
            int period = balanceAlertsRaised.getAndIncrement(accountSlot);
            raise(new AlertRaised(nowMs, Window.BALANCE, key.accountId(), key.sha256Hex(), period, -1, threshold, Math.max(0, balance)));
        }
    }

    private void raise(AlertRaised alert) {
        try {
            // Not awaited, and a failure is not the settlement's: a lost alert record is raised again by the first
            // settlement after a restart (see the class comment).
            writer.submit(alert, null);
            listener.raised(alert);
        } catch (RuntimeException e) {
            System.getLogger(SoftAlerts.class.getName()).log(System.Logger.Level.WARNING, "alert not recorded: " + e.getMessage());
        }
    }

    /** Money added to the account, or its threshold changed: a raised alert re-arms once the balance is back at the threshold. */
    void rearm(int accountSlot) {
        long threshold = thresholdMicros.get(accountSlot);
        if (threshold < 0 || balanceMicros(accountSlot) >= threshold) {
            balanceAlertState.set(accountSlot, ARMED);
        }
    }

    void setThreshold(int accountSlot, long newThresholdMicros) {
        thresholdMicros.set(accountSlot, newThresholdMicros);
        rearm(accountSlot);
    }

    long threshold(int accountSlot) {
        return thresholdMicros.get(accountSlot);
    }

    /** Restores an account's alert as the journal left it (before any request). */
    void restore(int accountSlot, LedgerState.BalanceAlert alert) {
        thresholdMicros.set(accountSlot, alert.thresholdMicros());
        balanceAlertState.set(accountSlot, alert.raised() ? RAISED : ARMED);
        balanceAlertsRaised.set(accountSlot, alert.raisedCount());
    }

    /** Restores a key's alert claims as the journal left them (before any request). */
    void restore(int spendSlot, LedgerState.KeyAlerts alerts) {
        spendWindows.setAlertPercent(spendSlot, alerts.percent());
        if (alerts.dayAlerted() >= 0) {
            spendWindows.restoreAlerted(spendSlot, SpendWindows.Window.DAY, alerts.dayAlerted());
        }
        if (alerts.monthAlerted() >= 0) {
            spendWindows.restoreAlerted(spendSlot, SpendWindows.Window.MONTH, alerts.monthAlerted());
        }
        if (alerts.totalAlerted()) {
            spendWindows.restoreAlerted(spendSlot, SpendWindows.Window.TOTAL, 0);
        }
    }

    private long balanceMicros(int accountSlot) {
        return balances.creditedMicros(accountSlot) - balances.debitedMicros(accountSlot);
    }

    /** The spend at which a cap's alert is raised: the percentage of the cap, rounded up (an alert never comes early). */
    static long thresholdOf(long capMicros, int percent) {
        return Math.ceilDiv(capMicros * percent, 100);
    }

    private static int period(SpendWindows.Window window, long nowMs) {
        return switch (window) {
            case DAY -> SpendWindows.dayOf(nowMs);
            case MONTH -> SpendWindows.monthOf(nowMs);
            case TOTAL -> 0;
        };
    }
}
