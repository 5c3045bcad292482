package dev.tollgate.journal;

import java.util.List;

/**
 * What start-up found in the journal. Reservations still open were left by requests in flight when
 * the process stopped; they are released (reason {@code recovery}) and reported here as in-flight
 * exposure: what the providers may still bill for those requests that no account paid.
 *
 * @param snapshotIndex       the journal index the snapshot covered, or -1 when replayed from the first record
 * @param recordsReplayed     journal records applied after the snapshot
 * @param replayNanos         time spent reading and applying them
 * @param releasedOnRecovery  the reservations recovery closed
 * @param exposureMicros      the sum of what they held
 * @param stateHash           {@link LedgerState#stateHash()} after recovery
 */
public record RecoveryReport(long snapshotIndex, long recordsReplayed, long replayNanos, List<LedgerState.OpenReservation> releasedOnRecovery,
                             long exposureMicros, String stateHash) {

    public RecoveryReport {
        releasedOnRecovery = List.copyOf(releasedOnRecovery);
    }

    /** Records applied per second during replay. */
    public long recordsPerSecond() {
        return replayNanos == 0 ? 0 : recordsReplayed * 1_000_000_000L / replayNanos;
    }
}
