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
 * crossing. A raised alert is an {@link AlertRaised} record in the journal (what the alert webhook delivers) and a call
 * of the {@link Listener} (the log line and the metric).
 *
 * <p><b>A key's windows</b> count what the cap counts, money held plus money debited, so an alert warns of the cap
 * as a request would meet it; each window's alert is claimed once per period in the key's {@link SpendWindows} slot by
 * one compare-and-set. The check is a condition, not an edge: a window at or past its alert that was never raised is
 * raised by the next settlement, so an alert whose record a crash lost is raised after the restart, and one that was
 * recorded is never raised again (recovery restores the claims from the journal).
 *
 * <p><b>An account's balance</b> is what it holds with its reservations counted as its own (credited minus debited),
 * so a large request in flight does not raise and clear it. Its alert is raised when a settlement finds the balance
 * below the threshold and re-armed when money added brings it back; both changes are journaled (the re-arm as an
 * {@link JournalEvent.AlertSet} of the same threshold) under one lock, so the journal has them in the order they
 * happened and a replay arrives at the state the live ledger had, whatever the counters did meanwhile.
 */
public final class SoftAlerts {
    /** Told of every alert raised on this node, on the thread that settled (an event loop): must not block. */
    public interface Listener {
        void raised(AlertRaised alert, ApiKeys.ApiKey key);
    }

    private static final int ARMED = 0;
    private static final int RAISED = 1;
    private static final SpendWindows.Window[] CAP_WINDOWS = SpendWindows.Window.values();

    private final Balances balances;
    private final SpendWindows spendWindows;
    private final JournalWriter writer;
    /** By account slot: the low-balance threshold in micros, -1 for none. */
    private final AtomicLongArray thresholdMicros;
    /** By account slot: {@link #ARMED} or {@link #RAISED}; changed only under {@link #balanceLock}. */
    private final AtomicIntegerArray balanceAlertState;
    /** By account slot: how many low-balance alerts were raised, the period of the next one; under {@link #balanceLock}. */
    private final int[] balanceAlertsRaised;
    /**
     * Orders every change of a balance alert with the record that journals it. Taken only to change one: when a
     * settlement finds an armed alert due (once per crossing) and when money added or a threshold set may re-arm it.
     */
    private final Object balanceLock = new Object();
    private volatile Listener listener = (alert, key) -> { };

    SoftAlerts(Balances balances, SpendWindows spendWindows, JournalWriter writer) {
        this.balances = balances;
        this.spendWindows = spendWindows;
        this.writer = writer;
        this.thresholdMicros = new AtomicLongArray(balances.capacity());
        for (int slot = 0; slot < balances.capacity(); slot++) {
            thresholdMicros.set(slot, -1);
        }
        this.balanceAlertState = new AtomicIntegerArray(balances.capacity());
        this.balanceAlertsRaised = new int[balances.capacity()];
    }

    void listener(Listener newListener) {
        listener = java.util.Objects.requireNonNull(newListener);
    }

    /**
     * Checks the key's windows of the UTC {@code day} and {@code month} its reservation was admitted in (where the debit
     * went) and its account's balance, after one of its settlements. Nothing to do costs two reads.
     */
    void afterSettle(ApiKeys.ApiKey key, int day, int month, long nowMs) {
        int spendSlot = key.spendSlot();
        if (spendSlot >= 0) {
            int due = spendWindows.alertsDue(spendSlot, day, month);
            if (due != 0) {
                raiseDue(key, spendSlot, due, day, month, nowMs);
            }
        }
        int accountSlot = key.accountSlot();
        long threshold = thresholdMicros.get(accountSlot);
        if (threshold >= 0 && balanceAlertState.get(accountSlot) == ARMED && balanceMicros(accountSlot) < threshold) {
            raiseBalance(key, accountSlot, nowMs);
        }
    }

    private void raiseDue(ApiKeys.ApiKey key, int slot, int due, int day, int month, long nowMs) {
        for (SpendWindows.Window window : CAP_WINDOWS) {
            int period = switch (window) {
                case DAY -> day;
                case MONTH -> month;
                case TOTAL -> 0;
            };
            if ((due & 1 << window.ordinal()) != 0 && spendWindows.claimAlert(slot, window, period)) {
                long capMicros = spendWindows.cap(slot, window);
                raise(new AlertRaised(nowMs, Window.valueOf(window.name()), key.accountId(), key.sha256Hex(), period, capMicros,
                        thresholdOf(capMicros, spendWindows.alertPercent(slot)), spendWindows.used(slot, window, period)), key);
            }
        }
    }

    private void raiseBalance(ApiKeys.ApiKey key, int accountSlot, long nowMs) {
        AlertRaised alert;
        synchronized (balanceLock) {
            long threshold = thresholdMicros.get(accountSlot);
            long balance = balanceMicros(accountSlot);
            if (threshold < 0 || balanceAlertState.get(accountSlot) != ARMED || balance >= threshold) {
                return; // another settlement raised it, or money came in, since the first look
            }
            balanceAlertState.set(accountSlot, RAISED);
            alert = new AlertRaised(nowMs, Window.BALANCE, key.accountId(), key.sha256Hex(), balanceAlertsRaised[accountSlot]++, -1, threshold,
                    Math.max(0, balance));
            submit(alert);
        }
        tell(alert, key);
    }

    private void raise(AlertRaised alert, ApiKeys.ApiKey key) {
        submit(alert);
        tell(alert, key);
    }

    /**
     * Not awaited, and a failure is not the settlement's: a lost alert record is raised again by the first settlement
     * after a restart (see the class comment).
     */
    private void submit(JournalEvent record) {
        try {
            JournalCodec.validate(record);
            writer.submit(record, null);
        } catch (RuntimeException e) {
            System.getLogger(SoftAlerts.class.getName()).log(System.Logger.Level.WARNING, "alert not recorded: " + e.getMessage());
        }
    }

    private void tell(AlertRaised alert, ApiKeys.ApiKey key) {
        try {
            listener.raised(alert, key);
        } catch (RuntimeException e) {
            System.getLogger(SoftAlerts.class.getName()).log(System.Logger.Level.WARNING, "alert listener failed: " + e);
        }
    }

    /**
     * Money was added to the account (a top-up, a positive adjustment): a raised alert re-arms once the balance is back at
     * the threshold, journaled as the threshold set again.
     */
    void afterMoneyAdded(String accountId, int accountSlot, long nowMs) {
        if (balanceAlertState.get(accountSlot) != RAISED) {
            return;
        }
        synchronized (balanceLock) {
            long threshold = thresholdMicros.get(accountSlot);
            if (balanceAlertState.get(accountSlot) == RAISED && balanceMicros(accountSlot) >= threshold) {
                balanceAlertState.set(accountSlot, ARMED);
                submit(new JournalEvent.AlertSet(nowMs, JournalEvent.AlertSet.ACCOUNT, accountId, threshold));
            }
        }
    }

    /**
     * Sets a threshold (-1: none) and arms its alert, with {@code record} (the journaled change) appended by
     * {@code journal}: under the lock, after every alert record already submitted, so the journal keeps the order.
     */
    void setThreshold(int accountSlot, long newThresholdMicros, Runnable journal) {
        synchronized (balanceLock) {
            writer.awaitWritten();
            journal.run();
            thresholdMicros.set(accountSlot, newThresholdMicros);
            balanceAlertState.set(accountSlot, ARMED);
        }
    }

    long threshold(int accountSlot) {
        return thresholdMicros.get(accountSlot);
    }

    /** The account's low-balance alert as it stands, as a replay of the journal gives it. */
    LedgerState.BalanceAlert balanceAlert(String accountId, int accountSlot) {
        synchronized (balanceLock) {
            return new LedgerState.BalanceAlert(accountId, thresholdMicros.get(accountSlot), balanceAlertsRaised[accountSlot],
                    balanceAlertState.get(accountSlot) == RAISED);
        }
    }

    /** Restores an account's alert as the journal left it (before any request). */
    void restore(int accountSlot, LedgerState.BalanceAlert alert) {
        synchronized (balanceLock) {
            thresholdMicros.set(accountSlot, alert.thresholdMicros());
            balanceAlertState.set(accountSlot, alert.raised() ? RAISED : ARMED);
            balanceAlertsRaised[accountSlot] = alert.raisedCount();
        }
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

    /** The spend at which a cap's alert is raised: the percentage of the cap, rounded up. */
    static long thresholdOf(long capMicros, int percent) {
        return Math.ceilDiv(capMicros * percent, 100);
    }
}
