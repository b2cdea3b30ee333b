import NodeCore

/// Panels of two-dimensional densities side by side, as FFJORD's toy
/// figures show them: a histogram of the data, a histogram of the model's
/// samples, the model's density on a grid — each over the same square box,
/// each scaled to its own maximum and coloured with an approximation of viridis.
public struct DensityFigure: Sendable {
  /// The square box every panel shows, `[low, high]²`.
  public let low: Double
  public let high: Double
  /// Cells per side of every panel.
  public let resolution: Int
  /// The panels' cell values, `resolution²` each, row 0 at the top (largest y).
  public private(set) var panels: [(title: String, values: [Double])] = []

  /// An empty figure over `[low, high]²` with `resolution` cells per side.
  public init(low: Double, high: Double, resolution: Int) {
    precondition(low < high && resolution > 0, "a figure needs low < high and resolution > 0")
    self.low = low
    self.high = high
    self.resolution = resolution
  }

  /// The centre of every cell, row by row from the top: `[resolution², 2]`,
  /// for evaluating a density on the figure's grid.
  public func cellCentres<Scalar: TensorScalar>(as _: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
    let n = resolution
    let cell = (high - low) / Double(n)
    var scalars = [Scalar](repeating: 0, count: n * n * 2)
    for row in 0..<n {
      for column in 0..<n {
        scalars[(row * n + column) * 2] = Scalar(low + (Double(column) + 0.5) * cell)
        scalars[(row * n + column) * 2 + 1] = Scalar(high - (Double(row) + 0.5) * cell)
      }
    }
    return Tensor(shape: [n * n, 2], scalars: scalars)
  }

  /// Adds a panel of a 2-D histogram of `points` (`[N, 2]`; points outside the box are left out).
  public mutating func addHistogram<Scalar: TensorScalar>(_ title: String, points: Tensor<Scalar>) {
    precondition(points.rank == 2 && points.shape[1] == 2, "points must be [N, 2]")
    let n = resolution
    var counts = [Double](repeating: 0, count: n * n)
    let scale = Double(n) / (high - low)
    for p in 0..<points.shape[0] {
      let x = Double(points.scalars[p * 2])
      let y = Double(points.scalars[p * 2 + 1])
      let column = Int(((x - low) * scale).rounded(.down))
      let row = Int(((high - y) * scale).rounded(.down))
      if column >= 0 && column < n && row >= 0 && row < n { counts[row * n + column] += 1 }
    }
    panels.append((title, counts))
  }

  /// Adds a panel of densities from log-densities at ``cellCentres(as:)`` (non-finite values show as 0).
  public mutating func addDensity<Scalar: TensorScalar>(_ title: String, logDensities: [Scalar]) {
    precondition(logDensities.count == resolution * resolution, "one value per cell expected")
    panels.append(
      (title, logDensities.map { $0.isFinite ? Double.exp(Double($0)) : 0 }))
  }

  /// The panels side by side, `pixelsPerCell` pixels per cell, 8 white pixels between.
  public func image(pixelsPerCell: Int = 2) -> PNGImage {
    let side = resolution * pixelsPerCell
    let gap = 8
    var image = PNGImage(
      width: panels.count * side + (panels.count + 1) * gap, height: side + 2 * gap)
    for (p, panel) in panels.enumerated() {
      let largest = panel.values.max() ?? 0
      let left = gap + p * (side + gap)
      for row in 0..<resolution {
        for column in 0..<resolution {
          let value = largest > 0 ? panel.values[row * resolution + column] / largest : 0
          let color = Self.viridis(value)
          for dy in 0..<pixelsPerCell {
            for dx in 0..<pixelsPerCell {
              image.set(
                x: left + column * pixelsPerCell + dx, y: gap + row * pixelsPerCell + dy, color)
            }
          }
        }
      }
    }
    return image
  }

  /// Viridis at `value ∈ [0, 1]`, linear between five of its stops.
  static func viridis(_ value: Double) -> (UInt8, UInt8, UInt8) {
    let stops: [(Double, Double, Double)] = [
      (68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37),
    ]
    let v = Swift.min(Swift.max(value, 0), 1) * Double(stops.count - 1)
    let i = Swift.min(Int(v), stops.count - 2)
    let f = v - Double(i)
    let (a, b) = (stops[i], stops[i + 1])
    return (
      UInt8((a.0 + f * (b.0 - a.0)).rounded()), UInt8((a.1 + f * (b.1 - a.1)).rounded()),
      UInt8((a.2 + f * (b.2 - a.2)).rounded())
    )
  }
}
