package dev.tollgate.proxy.exchange;

import java.util.EnumSet;
import java.util.Set;

/**
 * The life of one {@link Exchange}, in order. Each state names what the exchange is waiting for;
 * {@link #canMoveTo} is the whole transition table, and {@link Exchange} refuses any move it does not list,
 * so a late timer, a second upstream event or a client that left can never act on an exchange in a state
 * where that makes no sense.
 *
 * <pre>
 *   ADMITTING ──► RESERVED ──► AWAITING_HEAD ──► RELAYING ──► FINISHING ──► DONE
 *       │            │          │     ▲             │                       ▲
 *       │            │          └─────┘ resend      │                       │
 *       └────────────┴──────────┴───────────────────┴───── (any end) ───────┘
 * </pre>
 * Free endpoints (count_tokens) go from ADMITTING straight to AWAITING_HEAD: nothing is reserved.
 */
public enum ExchangeState {
    /** Arrived; being routed, authenticated and admitted. Nothing is held yet. */
    ADMITTING,
    /** Money is held; the request waits for the journal to have the reservation before it goes upstream. */
    RESERVED,
    /** Sent upstream (or connecting): no response head yet. A resend on a stale pooled connection stays here. */
    AWAITING_HEAD,
    /** The response head arrived; its body is metered and relayed to the client. */
    RELAYING,
    /** The reservation's outcome is decided and being journaled; the response's last bytes wait for it. */
    FINISHING,
    /** Over: the reservation has its one outcome, the upstream connection is pooled or closed. */
    DONE;

    private Set<ExchangeState> next;

    static {
        ADMITTING.next = EnumSet.of(RESERVED, AWAITING_HEAD, DONE);
        RESERVED.next = EnumSet.of(AWAITING_HEAD, DONE);
        AWAITING_HEAD.next = EnumSet.of(AWAITING_HEAD, RELAYING, FINISHING, DONE);
        RELAYING.next = EnumSet.of(FINISHING, DONE);
        FINISHING.next = EnumSet.of(DONE);
        DONE.next = EnumSet.noneOf(ExchangeState.class);
    }

    public boolean canMoveTo(ExchangeState target) {
        return next.contains(target);
    }

    /** True once the outcome is decided: upstream failures, timeouts and a leaving client no longer change it. */
    public boolean outcomeDecided() {
        return this == FINISHING || this == DONE;
    }
}
