// Repository-relative POSIX paths: the only kind of path the planner handles.

/** Folder of a repo-relative path; '.' for files at the root. */
export function dirname(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '.' : path.slice(0, slash);
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Joins repo-relative parts, resolving `.` and `..`; returns undefined when the result leaves the repository. */
export function joinRelative(...parts: string[]): string | undefined {
  const out: string[] = [];
  for (const part of parts) {
    for (const segment of part.split('/')) {
      if (segment === '' || segment === '.') continue;
      if (segment === '..') {
        if (out.length === 0) return undefined;
        out.pop();
      } else {
        out.push(segment);
      }
    }
  }
  return out.length === 0 ? '.' : out.join('/');
}

/** The path of `path` inside folder `dir`, or undefined when it is not inside. */
export function relativeTo(dir: string, path: string): string | undefined {
  if (dir === '.') return path;
  if (path.length > dir.length && path.startsWith(dir) && path[dir.length] === '/') {
    return path.slice(dir.length + 1);
  }
  return undefined;
}

/** Every folder that holds `path`, innermost first, ending with '.'. */
export function ancestorFolders(path: string): string[] {
  const folders: string[] = [];
  let end = path.lastIndexOf('/');
  while (end > 0) {
    folders.push(path.slice(0, end));
    end = path.lastIndexOf('/', end - 1);
  }
  folders.push('.');
  return folders;
}

/** Normalises user-written relative paths (`./a/b/`, `a//b`) to the planner's form. */
export function normaliseRelative(path: string): string | undefined {
  if (path.startsWith('/')) return undefined;
  return joinRelative(path);
}
