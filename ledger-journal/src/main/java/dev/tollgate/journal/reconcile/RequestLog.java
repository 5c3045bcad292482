package dev.tollgate.journal.reconcile;

import dev.tollgate.journal.Journal;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.metering.Usage;
import java.util.ArrayList;
import java.util.List;

/**
 * The per-request log of a key or an account, newest first, read backward from the journal (a
 * settlement or release record carries everything the log shows). Pages are bounded twice: by
 * {@link Query#limit()} entries, and by {@link Query#maxScanned()} records read, so a narrow filter
 * over a long journal returns a short (even empty) page with a cursor instead of reading everything
 * in one call. Requests in archived cycles are not in the journal any more and do not appear.
 */
public final class RequestLog {
    public static final int MAX_LIMIT = 1_000;
    public static final long DEFAULT_MAX_SCANNED = 1_000_000;
    /** The cursor of the first page: start from the newest record. */
    public static final long NEWEST = Long.MAX_VALUE;

    private RequestLog() {
    }

    public enum Status {
        SETTLED, RELEASED
    }

    /**
     * Which requests to list. Exactly one of {@code accountId} and {@code keyHash} is set.
     *
     * @param model       only this model, or null for all
     * @param status      only settled or only released requests, or null for both
     * @param limit       at most this many entries (1..{@value #MAX_LIMIT})
     * @param beforeIndex the cursor: {@link #NEWEST} for the first page, then the previous page's {@link Page#nextCursor()}
     * @param maxScanned  at most this many journal records read for the page
     */
    public record Query(String accountId, String keyHash, String model, Status status, int limit, long beforeIndex, long maxScanned) {
        public Query {
            if (accountId != null && keyHash != null) {
                throw new IllegalArgumentException("a request log is of one account, of one key, or of all");
            }
            if (limit < 1 || limit > MAX_LIMIT) {
                throw new IllegalArgumentException("limit must be 1.." + MAX_LIMIT + ": " + limit);
            }
            if (maxScanned < 1) {
                throw new IllegalArgumentException("maxScanned must be positive");
            }
        }

        public static Query ofAccount(String accountId, int limit) {
            return new Query(accountId, null, null, null, limit, NEWEST, DEFAULT_MAX_SCANNED);
        }

        public static Query ofKey(String keyHash, int limit) {
            return new Query(null, keyHash, null, null, limit, NEWEST, DEFAULT_MAX_SCANNED);
        }

        public Query model(String onlyModel) {
            return new Query(accountId, keyHash, onlyModel, status, limit, beforeIndex, maxScanned);
        }

        public Query status(Status onlyStatus) {
            return new Query(accountId, keyHash, model, onlyStatus, limit, beforeIndex, maxScanned);
        }

        public Query before(long cursor) {
            return new Query(accountId, keyHash, model, status, limit, cursor, maxScanned);
        }

        public Query maxScanned(long records) {
            return new Query(accountId, keyHash, model, status, limit, beforeIndex, records);
        }
    }

    /**
     * One request as the log shows it. A released request has {@link Usage#ZERO} and zero amounts.
     *
     * @param index       the journal index of its settlement or release
     * @param timestampMs when it was settled or released
     */
    public record Entry(long index, long timestampMs, Status status, RequestFacts request, Usage usage, boolean usageReportedByProvider,
                        long costMicros, long debitedMicros, long writtenOffMicros, String reason) {
    }

    /**
     * @param nextCursor pass to {@link Query#before(long)} for the next page, or -1 when the start of the journal was reached
     * @param scanned    journal records read for this page
     */
    public record Page(List<Entry> entries, long nextCursor, long scanned) {
        public Page {
            entries = List.copyOf(entries);
        }

        public boolean hasMore() {
            return nextCursor >= 0;
        }
    }

    public static Page query(Journal journal, Query query) {
        List<Entry> entries = new ArrayList<>(Math.min(query.limit(), 64));
        long[] scanned = {0};
        long[] lastSeen = {-1};
        boolean[] stoppedEarly = {false};
        journal.readBackward(query.beforeIndex(), (index, event) -> {
            scanned[0]++;
            lastSeen[0] = index;
            Entry entry = entry(index, event);
            if (entry != null && matches(query, entry)) {
                entries.add(entry);
            }
            if (entries.size() >= query.limit() || scanned[0] >= query.maxScanned()) {
                stoppedEarly[0] = true;
                return false;
            }
            return true;
        });
        // Stopped by a bound: the next page starts before the last record read. Ran out of records: no next page.
        return new Page(entries, stoppedEarly[0] ? lastSeen[0] : -1, scanned[0]);
    }

    private static Entry entry(long index, JournalEvent event) {
        return switch (event) {
            case Settled e -> new Entry(index, e.timestampMs(), Status.SETTLED, e.request(), e.usage(), e.usageReportedByProvider(), e.costMicros(),
                    e.debitedMicros(), e.writtenOffMicros(), e.reason());
            case Released e -> new Entry(index, e.timestampMs(), Status.RELEASED, e.request(), Usage.ZERO, false, 0, 0, 0, e.reason());
            default -> null;
        };
    }

    private static boolean matches(Query query, Entry entry) {
        RequestFacts facts = entry.request();
        return (query.accountId() == null || query.accountId().equals(facts.accountId()))
                && (query.keyHash() == null || query.keyHash().equals(facts.keyHash()))
                && (query.model() == null || query.model().equals(facts.model()))
                && (query.status() == null || query.status() == entry.status());
    }
}
