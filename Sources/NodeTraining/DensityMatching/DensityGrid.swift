import Foundation

/// Log densities on a regular grid of cells over a rectangle of R², for
/// pictures and for checking that a density integrates to 1.
public struct DensityGrid: Sendable, Equatable {
  /// The horizontal extent.
  public let xRange: ClosedRange<Double>
  /// The vertical extent.
  public let yRange: ClosedRange<Double>
  /// Cells per side.
  public let resolution: Int
  /// `log q` at the cell centres, row-major: element `j · resolution + i` is
  /// at `(x(i), y(j))`; empty until filled.
  public let logDensities: [Double]

  /// An empty grid.
  ///
  /// - Throws: ``DensityMatchingError/invalidOption(name:value:allowed:)`` for
  ///   `resolution < 1` or a range that is not finite with lower < upper.
  public init(xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, resolution: Int) throws {
    guard resolution >= 1 else {
      throw DensityMatchingError.invalidOption(
        name: "grid resolution", value: "\(resolution)", allowed: "≥ 1")
    }
    for (name, range) in [("x range", xRange), ("y range", yRange)]
    where
      !(range.lowerBound.isFinite && range.upperBound.isFinite
      && range.lowerBound < range.upperBound)
    {
      throw DensityMatchingError.invalidOption(
        name: name, value: "\(range)", allowed: "finite bounds with lower < upper")
    }
    self.xRange = xRange
    self.yRange = yRange
    self.resolution = resolution
    logDensities = []
  }

  private init(_ grid: DensityGrid, logDensities: [Double]) {
    xRange = grid.xRange
    yRange = grid.yRange
    resolution = grid.resolution
    self.logDensities = logDensities
  }

  /// This grid holding `values` (`resolution²` of them, row-major).
  func with(logDensities values: [Double]) -> DensityGrid {
    precondition(
      values.count == resolution * resolution, "\(resolution * resolution) values expected")
    return DensityGrid(self, logDensities: values)
  }

  /// The width of a cell.
  public var cellWidth: Double { (xRange.upperBound - xRange.lowerBound) / Double(resolution) }
  /// The height of a cell.
  public var cellHeight: Double { (yRange.upperBound - yRange.lowerBound) / Double(resolution) }

  /// The centre of column `i`.
  public func x(_ i: Int) -> Double { xRange.lowerBound + (Double(i) + 0.5) * cellWidth }
  /// The centre of row `j`.
  public func y(_ j: Int) -> Double { yRange.lowerBound + (Double(j) + 0.5) * cellHeight }

  /// `∫ q` over the rectangle by the midpoint rule, `Σ exp(log q) · cell area`:
  /// about 1 when the rectangle holds nearly all of `q`'s mass.
  public var totalMass: Double {
    logDensities.reduce(0) { $0 + exp($1) } * cellWidth * cellHeight
  }
}
