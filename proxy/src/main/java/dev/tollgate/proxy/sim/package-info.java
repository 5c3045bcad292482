/**
 * The simulated upstream provider: a Netty HTTP server speaking the OpenAI and Anthropic wire
 * formats, used as the test double for both providers, the upstream of {@code bin/tollgate demo}
 * and the mock of the load harness. Start one with
 * {@link dev.tollgate.proxy.sim.SimulatedProvider#start}.
 *
 * <h2>Token accounting (what metering is checked against)</h2>
 * <ul>
 *   <li>Output: the text is made of words that are each exactly one token in {@code o200k_base}
 *       and {@code cl100k_base}; one content delta is one word, so output tokens = content deltas
 *       (+ {@code [sim:reasoning]} tokens, which are reported but never shown).</li>
 *   <li>Deltas: {@code [sim:events=N]}, else the settings' {@code defaultEvents}; capped by
 *       {@code max_completion_tokens}/{@code max_tokens} (chat), {@code max_tokens} (completions,
 *       default 16), {@code max_output_tokens} (responses), {@code max_tokens} (messages), reasoning
 *       taking its share of the cap first. A capped answer ends with {@code finish_reason "length"},
 *       {@code status "incomplete"} or {@code stop_reason "max_tokens"}.</li>
 *   <li>Prompt: tokens of every text piece (message contents, text parts, system, instructions,
 *       input) counted one by one, + 3 per message + 3, in {@code o200k_base} for model ids starting
 *       gpt-4o, gpt-4.1, gpt-5, o1, o3, o4 and {@code cl100k_base} otherwise. Legacy completions and
 *       embeddings count the prompt's own tokens only (token arrays count as given).</li>
 *   <li>{@code [sim:cached=N]}: OpenAI {@code cached_tokens} inside the prompt tokens (the prompt is
 *       raised to N if smaller); Anthropic {@code cache_read_input_tokens}, taken out of
 *       {@code input_tokens}. {@code [sim:cache-write=N]}: Anthropic
 *       {@code cache_creation_input_tokens}, also taken out of {@code input_tokens} (floored at 0).</li>
 * </ul>
 *
 * <h2>Directives</h2>
 * Written anywhere in the request's text, see {@link dev.tollgate.proxy.sim.Directives}.
 * {@code [sim:no-usage]} removes usage entirely: no usage field on non-streaming answers, no usage
 * chunk nor {@code "usage":null} fields in OpenAI streams, {@code "usage":null} in Responses API
 * objects, and no usage in Anthropic's message_start or message_delta.
 * {@code [sim:fail-after=N]} closes the connection (FIN, no last chunk) right after the N-th
 * content delta, before anything else is written: with N equal to the number of deltas it cuts
 * before the stop events, with N larger the stream completes. Non-streaming requests ignore it.
 *
 * <h2>Rate-limit headers</h2>
 * Every 2xx and 429 answer carries the provider's own rate-limit headers, as the real ones do: OpenAI's
 * {@code x-ratelimit-*} requests and tokens trios, Anthropic's {@code anthropic-ratelimit-*} requests, tokens,
 * input-tokens and output-tokens trios; a 429 adds {@code retry-after: 1}. Their values are fixed (large limits), so a
 * proxy that lets them through is easy to tell.
 *
 * <h2>Timing</h2>
 * The first-byte delay holds back the response head (streams) or the whole response (JSON); the
 * inter-event delay separates every two consecutive SSE events, prelude and trailer included.
 * Errors from {@code [sim:error=STATUS]}, authentication and validation are answered at once.
 */
package dev.tollgate.proxy.sim;
