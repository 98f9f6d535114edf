//! The lineage of a project as a viewer sees it: ancestors up to the root and the descendant tree
//! as a flat list of nodes linked by per-response references (`ref`, `parentRef`), so the tree
//! can be rebuilt without nesting and without handing out ids. Nodes the viewer may not list
//! (private, unlisted or hidden projects of others) are redacted: they keep their place in the
//! tree but carry no project.

use crate::models::Project;
use crate::ports::LineageRows;
use ingenio_kernel::{ProjectId, TenantId, Viewer};
use std::collections::HashMap;

/// An ancestor: `project` is `None` when redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct AncestorNode {
    pub depth: i32,
    pub project: Option<Project>,
}

/// A descendant: `node_ref` is unique in the response; the project asked about is ref 0.
#[derive(Debug, Clone, PartialEq)]
pub struct DescendantNode {
    pub node_ref: u32,
    pub parent_ref: u32,
    pub depth: i32,
    pub project: Option<Project>,
}

/// The lineage answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Lineage {
    pub project: Project,
    pub ancestors: Vec<AncestorNode>,
    pub descendants: Vec<DescendantNode>,
    /// More descendants (or deeper ancestors) exist than the response holds.
    pub truncated: bool,
}

/// Builds the viewer's lineage from the stored rows. Descendants whose parent is not in the
/// rows (cannot happen with a consistent walk) are dropped rather than attached wrongly.
pub fn assemble(
    project: Project,
    rows: LineageRows,
    viewer: Option<&Viewer>,
    anonymous_tenant: TenantId,
) -> Lineage {
    let show = |p: Project| p.listable_by(viewer, anonymous_tenant).then_some(p);
    let ancestors = rows
        .ancestors
        .into_iter()
        .map(|r| AncestorNode {
            depth: r.depth,
            project: show(r.project),
        })
        .collect();
    let mut refs: HashMap<ProjectId, u32> = HashMap::new();
    refs.insert(project.id, 0);
    let mut descendants = Vec::with_capacity(rows.descendants.len());
    for r in rows.descendants {
        let Some(parent_ref) = r.parent.and_then(|p| refs.get(&p).copied()) else {
            continue;
        };
        if refs.contains_key(&r.project.id) {
            continue; // a cycle or a duplicate path: each project appears once
        }
        let node_ref = u32::try_from(refs.len()).unwrap_or(u32::MAX);
        refs.insert(r.project.id, node_ref);
        descendants.push(DescendantNode {
            node_ref,
            parent_ref,
            depth: r.depth,
            project: show(r.project),
        });
    }
    Lineage {
        project,
        ancestors,
        descendants,
        truncated: rows.truncated,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::models::Visibility;
    use crate::ports::LineageRow;
    use ingenio_kernel::UserId;

    fn p(owner: UserId, vis: Visibility) -> Project {
        crate::models::test_project(TenantId::default(), owner, vis)
    }

    #[test]
    fn redacts_what_the_viewer_may_not_list_and_keeps_the_shape() {
        let (a, b) = (UserId::new_random(), UserId::new_random());
        let viewer = Viewer::owner(TenantId::default(), b);
        let root = p(a, Visibility::Public);
        let mid = p(a, Visibility::Public);
        let secret = p(a, Visibility::Private);
        let child = p(b, Visibility::Private);
        let row = |project: &Project, parent: Option<&Project>, depth| LineageRow {
            project: project.clone(),
            parent: parent.map(|x| x.id),
            depth,
        };
        let rows = LineageRows {
            ancestors: vec![row(&root, None, 1)],
            descendants: vec![
                row(&secret, Some(&mid), 1),
                row(&child, Some(&secret), 2),
                // a repeated node (cycle guard) and an orphan are both dropped
                row(&secret, Some(&child), 3),
                row(
                    &p(a, Visibility::Public),
                    Some(&p(a, Visibility::Public)),
                    1,
                ),
            ],
            truncated: true,
        };
        let l = assemble(mid.clone(), rows, Some(&viewer), TenantId::default());
        assert_eq!(l.ancestors.len(), 1);
        assert_eq!(l.ancestors[0].project.as_ref().unwrap().id, root.id);
        assert_eq!(l.descendants.len(), 2);
        assert_eq!(
            l.descendants[0].project, None,
            "another user's private fork"
        );
        assert_eq!(
            (l.descendants[0].node_ref, l.descendants[0].parent_ref),
            (1, 0)
        );
        assert_eq!(l.descendants[1].project.as_ref().unwrap().id, child.id);
        assert_eq!(l.descendants[1].parent_ref, 1);
        assert!(l.truncated);
    }
}
