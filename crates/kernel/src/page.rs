//! Paging: a validated page request (1-based `current`, bounded `size`) and a page of results.

use serde::Serialize;

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Why a page request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageRequestError {
    #[error("current must be at least 1")]
    Current,
    #[error("size must be between 1 and {MAX_PAGE_SIZE}")]
    Size,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    current: u32,
    size: u32,
}

impl PageRequest {
    /// Validates `current` (≥ 1) and `size` (1..=100).
    pub fn new(current: u32, size: u32) -> Result<Self, PageRequestError> {
        if current < 1 {
            return Err(PageRequestError::Current);
        }
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(PageRequestError::Size);
        }
        Ok(Self { current, size })
    }
    pub fn current(&self) -> u32 {
        self.current
    }
    pub fn size(&self) -> u32 {
        self.size
    }
    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        i64::from(self.current - 1) * i64::from(self.size)
    }
    pub fn limit(&self) -> i64 {
        i64::from(self.size)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            current: 1,
            size: 10,
        }
    }
}

/// One page of results with the totals a client needs to page on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub records: Vec<T>,
    pub total: u64,
    pub current: u32,
    pub size: u32,
    pub pages: u64,
}

impl<T> Page<T> {
    pub fn new(records: Vec<T>, total: u64, request: PageRequest) -> Self {
        let size = u64::from(request.size());
        Self {
            records,
            total,
            current: request.current(),
            size: request.size(),
            pages: total.div_ceil(size),
        }
    }

    /// The same page with every record mapped (e.g. domain rows to response bodies).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            records: self.records.into_iter().map(f).collect(),
            total: self.total,
            current: self.current,
            size: self.size,
            pages: self.pages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_zero_and_oversized() {
        assert_eq!(PageRequest::new(0, 10), Err(PageRequestError::Current));
        assert_eq!(PageRequest::new(1, 0), Err(PageRequestError::Size));
        assert_eq!(PageRequest::new(1, 101), Err(PageRequestError::Size));
    }

    #[test]
    fn offset_and_pages() {
        let r = PageRequest::new(3, 20).map_err(|e| e.to_string());
        let r = r.unwrap_or_default();
        assert_eq!(r.offset(), 40);
        let p: Page<u8> = Page::new(vec![], 41, r);
        assert_eq!(p.pages, 3);
    }
}
