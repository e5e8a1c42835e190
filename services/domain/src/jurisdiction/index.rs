//! The point index: which grids may contain a point, without testing every polygon.

use geo::{Coord, Intersects, Rect};

/// A uniform grid of buckets over the extent of all grids; each bucket lists the grids whose
/// bounding box touches it (inclusive, so points on a box edge still find the box).
///
/// Simpler than an R-tree and plenty for city-sized data: about four buckets per grid keeps each
/// bucket to a handful of candidates.
#[derive(Debug, Clone)]
pub(super) struct Buckets {
    /// The bounding box of all grids, `None` without grids.
    pub(super) extent: Option<Rect<f64>>,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<usize>>,
}

impl Buckets {
    pub(super) fn new(boxes: &[Rect<f64>]) -> Self {
        let extent = boxes.iter().copied().reduce(|a, b| {
            Rect::new(
                Coord { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                Coord { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        });
        let side = ((boxes.len() as f64).sqrt().ceil() as usize * 2).clamp(1, 512);
        let mut buckets = Buckets { extent, cols: side, rows: side, cells: vec![Vec::new(); side * side] };
        for (i, b) in boxes.iter().enumerate() {
            let (c0, r0) = buckets.cell_of(b.min());
            let (c1, r1) = buckets.cell_of(b.max());
            for r in r0..=r1 {
                for c in c0..=c1 {
                    buckets.cells[r * buckets.cols + c].push(i);
                }
            }
        }
        buckets
    }

    /// The bucket of a point, clamped to the index. The mapping is monotone in x and y, so a
    /// point inside a box always falls in one of the buckets the box was registered in.
    pub(super) fn cell_of(&self, p: Coord<f64>) -> (usize, usize) {
        let Some(extent) = self.extent else { return (0, 0) };
        let index = |v: f64, lo: f64, span: f64, n: usize| {
            if span <= 0.0 {
                return 0;
            }
            let k = ((v - lo) / span * n as f64).floor();
            if k.is_nan() || k < 0.0 {
                0
            } else {
                (k as usize).min(n - 1)
            }
        };
        (index(p.x, extent.min().x, extent.width(), self.cols), index(p.y, extent.min().y, extent.height(), self.rows))
    }

    pub(super) fn candidates(&self, p: Coord<f64>) -> &[usize] {
        match self.extent {
            Some(extent) if extent.intersects(&p) => {
                let (c, r) = self.cell_of(p);
                &self.cells[r * self.cols + c]
            }
            _ => &[],
        }
    }

    /// Grids registered in any bucket a box touches (with repeats).
    pub(super) fn candidates_in<'a>(&'a self, b: &Rect<f64>) -> impl Iterator<Item = usize> + 'a {
        let (c0, r0) = self.cell_of(b.min());
        let (c1, r1) = self.cell_of(b.max());
        (r0..=r1).flat_map(move |r| (c0..=c1).flat_map(move |c| self.cells[r * self.cols + c].iter().copied()))
    }
}
