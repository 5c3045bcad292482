package dev.tollgate.proxy.exchange;

import dev.tollgate.metering.Usage;
import io.netty.buffer.ByteBuf;

/**
 * Carries one upstream response body to the client while metering it, and says what it cost. It never
 * ends the exchange's money itself: it hands its usage to {@link Exchange#finish} (the body is whole) or
 * answers {@link #usageOnFailure} and {@link #usageOnClientGone} when the exchange ends early.
 * Confined to the exchange's event loop.
 */
interface ResponseRelay {

    /**
     * The next piece of the body; {@code last} for the piece that ends it (which may be empty).
     * Borrowed: the relay retains what it keeps or forwards.
     */
    void onContent(ByteBuf content, boolean last);

    /** The body is complete: finish the exchange (settle, then end the client's response). */
    void onEnd();

    /** True for SSE, where a failure can still be told to the client as an event. */
    boolean streaming();

    /** True when the client gets the head and body only once the debit is journaled (a JSON body, so a failure can still be a 503). */
    default boolean holdsResponseForDebit() {
        return false;
    }

    /** The upstream failed mid-body: the usage to bill, or null to release (nothing usable was generated). */
    Usage usageOnFailure();

    /** The client went away mid-body and the upstream is cancelled: the usage to bill, or null to release. */
    Usage usageOnClientGone();

    /** True if, when the client goes away, the body is still read to its end and settled exactly (nothing is saved by cancelling). */
    default boolean readsOnWhenClientGone() {
        return false;
    }

    /**
     * Output tokens counted in the body so far with the model's tokenizer: evidence of output really
     * produced, which a provider's report cannot talk below or (past the cap sent) above.
     */
    default long outputTokensCounted() {
        return 0;
    }

    /** The service tier the body says served the request so far, or null while it said none. */
    default String servedServiceTier() {
        return null;
    }

    /** True once the provider sent its own error event in the body (the client has it already). */
    default boolean providerErrorSeen() {
        return false;
    }

    /** How many events went to the client (a Responses error event carries the next sequence number). */
    default long eventsForwarded() {
        return 0;
    }

    /** Frees anything still held. */
    void dispose();
}
