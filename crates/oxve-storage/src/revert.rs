//! Undo steps for multi-step operations: each step that changed something registers how to
//! take it back; if the operation fails before [`Revert::commit`], the steps run in reverse
//! order when the guard is dropped.

/// A stack of undo actions, run on drop unless committed.
#[derive(Default)]
pub struct Revert {
    steps: Vec<Box<dyn FnOnce()>>,
}

impl Revert {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register how to undo the step that just succeeded.
    pub fn add(&mut self, undo: impl FnOnce() + 'static) {
        self.steps.push(Box::new(undo));
    }

    /// The operation succeeded: forget the undo steps.
    pub fn commit(mut self) {
        self.steps.clear();
    }
}

impl Drop for Revert {
    fn drop(&mut self) {
        while let Some(step) = self.steps.pop() {
            step();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn runs_in_reverse_unless_committed() {
        let log = Rc::new(RefCell::new(Vec::new()));
        {
            let mut r = Revert::new();
            for i in 0..3 {
                let log = log.clone();
                r.add(move || log.borrow_mut().push(i));
            }
        }
        assert_eq!(*log.borrow(), [2, 1, 0]);
        let mut r = Revert::new();
        let l = log.clone();
        r.add(move || l.borrow_mut().push(9));
        r.commit();
        assert_eq!(log.borrow().len(), 3);
    }
}
