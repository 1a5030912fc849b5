// A request body on its way upstream, read from the client by one task the gate owns (BodyPipe.pump)
// and handed to AsyncHTTPClient one chunk at a time. Hummingbird reads what is left of a body itself
// once the responder returns, from the same connection: two readers at once trap. So the gate's reader
// must have ended before `forward` returns, whatever AsyncHTTPClient did with the body (an early
// answer, a failed connection, a retry): the pipe is what the gate can stop and wait for.
import NIOCore
import Synchronization

final class BodyPipe: AsyncSequence, Sendable {
  typealias Element = ByteBuffer

  private struct State {
    var chunk: ByteBuffer? = nil
    var ended = false
    var failure: (any Error)? = nil
    var consumer: CheckedContinuation<ByteBuffer?, any Error>? = nil
    var producer: CheckedContinuation<Void, Never>? = nil
  }
  private let state = Mutex(State())
  /// Set when the client's side failed (it went away mid-body): the 502 is then not ComfyUI's fault.
  private let clientFailed = Atomic<Bool>(false)

  var clientWentAway: Bool { clientFailed.load(ordering: .acquiring) }

  /// Reads `body` to its end (or until the pipe is ended), one chunk handed over at a time.
  func pump(from body: some AsyncSequence<ByteBuffer, any Error>) async {
    do {
      for try await chunk in body {
        if state.withLock({ $0.ended }) { return }
        await send(chunk)
      }
      end(nil)
    } catch {
      clientFailed.store(true, ordering: .releasing)
      end(error)
    }
  }

  /// Hands `chunk` to the consumer; returns once it took it (or the pipe ended).
  private func send(_ chunk: ByteBuffer) async {
    await withCheckedContinuation { (producer: CheckedContinuation<Void, Never>) in
      let resume: () -> Void = state.withLock { state in
        if state.ended { return { producer.resume() } }
        if let consumer = state.consumer {
          state.consumer = nil
          return {
            consumer.resume(returning: chunk)
            producer.resume()
          }
        }
        state.chunk = chunk
        state.producer = producer
        return {}
      }
      resume()
    }
  }

  /// Ends the pipe: the consumer gets the end (or `error`), a waiting producer is let go.
  func end(_ error: (any Error)?) {
    let resume: () -> Void = state.withLock { state in
      guard !state.ended else { return {} }
      state.ended = true
      state.failure = error
      let consumer = state.consumer
      let producer = state.producer
      state.consumer = nil
      state.producer = nil
      return {
        producer?.resume()
        if let error { consumer?.resume(throwing: error) } else { consumer?.resume(returning: nil) }
      }
    }
    resume()
  }

  private func take() async throws -> ByteBuffer? {
    try await withCheckedThrowingContinuation { (consumer: CheckedContinuation<ByteBuffer?, any Error>) in
      let resume: () -> Void = state.withLock { state in
        if let chunk = state.chunk {
          state.chunk = nil
          let producer = state.producer
          state.producer = nil
          return {
            consumer.resume(returning: chunk)
            producer?.resume()
          }
        }
        if state.ended {
          let failure = state.failure
          return { if let failure { consumer.resume(throwing: failure) } else { consumer.resume(returning: nil) } }
        }
        state.consumer = consumer
        return {}
      }
      resume()
    }
  }

  struct AsyncIterator: AsyncIteratorProtocol {
    let pipe: BodyPipe
    mutating func next() async throws -> ByteBuffer? { try await pipe.take() }
  }

  func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pipe: self) }
}
