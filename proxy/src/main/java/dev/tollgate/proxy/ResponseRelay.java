package dev.tollgate.proxy;

import io.netty.buffer.ByteBuf;

/** Carries one upstream response body to the client while metering it. Confined to the exchange's event loop. */
interface ResponseRelay {

    /**
     * The next piece of the body; {@code last} for the piece that ends it (which may be empty).
     * Borrowed: the relay retains what it keeps or forwards.
     */
    void onContent(ByteBuf content, boolean last);

    /** The body is complete: settle and end the client's response. */
    void onEnd();

    /** True for SSE, where a failure can still be told to the client as an event. */
    boolean streaming();

    /** The upstream failed mid-body: bill what was generated (or release if nothing was). */
    void upstreamFailed(String reason);

    /**
     * The client went away mid-body: bill what was generated so far.
     *
     * @return true if the relay keeps reading the upstream to its end (and completes the exchange itself),
     *         false if the upstream is to be cancelled now
     */
    boolean clientGone();

    /** Frees anything still held. */
    void dispose();
}
