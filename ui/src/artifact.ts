// What an artifact preview shows, from its name and listed size.

export const PREVIEW_LIMIT = 256 * 1024;

export type PreviewKind = 'text' | 'json' | 'image' | 'none';

const TEXT = new Set(['txt', 'log', 'md', 'py', 'yaml', 'yml', 'csv', 'tsv', 'ini', 'cfg', 'toml', 'sh', 'r', 'sql', 'html', 'xml']);
const TEXT_NAMES = new Set(['MLmodel', 'MLproject', 'requirements.txt', 'conda.yaml', 'python_env.yaml', 'Dockerfile', 'LICENSE']);
const IMAGES = new Set(['png', 'jpg', 'jpeg', 'gif']);

export function previewKind(path: string): PreviewKind {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (TEXT_NAMES.has(name)) return 'text';
  const dot = name.lastIndexOf('.');
  const ext = dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
  if (ext === 'json') return 'json';
  if (TEXT.has(ext)) return 'text';
  if (IMAGES.has(ext)) return 'image';
  return 'none';
}

/** Why a file is not previewed, or `null` when it is. */
export function previewRefusal(path: string, size: number | undefined): string | null {
  if (previewKind(path) === 'none') return 'No preview for this file type.';
  if (size != null && size > PREVIEW_LIMIT) return `Too large to preview (over ${PREVIEW_LIMIT / 1024} KiB).`;
  return null;
}

/** Pretty JSON, or the text as is when it does not parse. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A logged model shown as a folder of its run's artifacts, under its name. */
export interface ModelFolder {
  name: string;
  modelId: string;
}

/** Where a path of a run's artifact tree lives: in the run's artifacts, or inside one of its logged models. */
export function locate(path: string, models: ModelFolder[]): { model?: ModelFolder; rel: string } {
  const [first, ...rest] = path.split('/');
  const model = models.find((m) => m.name === first);
  return model ? { model, rel: rest.join('/') } : { rel: path };
}
