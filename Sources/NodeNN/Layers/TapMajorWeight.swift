import NodeCore

/// A convolution weight `[O, C, taps]` rearranged as `[O, taps, C]` (the
/// lane kernels' order), or for the transposed convolution as
/// `[C, taps, O]` with the taps reversed, kept while the weight's values
/// stay the same.
final class TapMajorWeight<Scalar: TensorScalar> {
  private let rearranged = ScratchBuffer<Scalar>()
  private let source = ValueSnapshot<Scalar>()
  /// The layout the buffer holds (nil before the first call).
  private var madeTransposed: Bool?

  /// The rearranged copy of `w` (`outputs · channels · taps` values); valid
  /// until the next call. `transposed` swaps the roles of the channels and
  /// reverses the taps: reversing a same-size kernel negates every tap's
  /// shift, so the transposed convolution `Wᵀ ⋆ dY` is the convolution of
  /// `dY` with that weight.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func of(
    _ w: UnsafePointer<Scalar>, outputs: Int, channels: Int, taps: Int, transposed: Bool = false
  ) -> UnsafeMutablePointer<Scalar> {
    let count = outputs * channels * taps
    let target = rearranged.reserve(count)
    if madeTransposed == transposed && source.holds(w, count: count) { return target }
    let patch = channels * taps
    for o in 0..<outputs {
      for c in 0..<channels {
        for t in 0..<taps {
          let value = w[o &* patch &+ c &* taps &+ t]
          if transposed {
            target[c &* taps &* outputs &+ (taps - 1 - t) &* outputs &+ o] = value
          } else {
            target[o &* patch &+ t &* channels &+ c] = value
          }
        }
      }
    }
    source.take(w, count: count)
    madeTransposed = transposed
    return target
  }
}
