// A vendor at a glance, under the answer to "tell me about <vendor>" (assistant/web/views.py builds the
// props, every value already formatted). Chainlit renders this file in the browser at run time
// (react-runner): no build step. `props` is injected globally. Only Tailwind classes that Chainlit's own
// stylesheet contains take effect, so layout that needs anything else is written as inline styles (and the
// warning red is fixed: the theme's "destructive" red is too dark to read on the dark theme).
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from '@/components/ui/card';
import { Badge } from '@/components/ui/badge';
import { AlertTriangle, FileText } from 'lucide-react';

export default function VendorCard() {
  const facts = props.facts || [];
  const totals = props.totals || [];
  const anomalies = props.anomalies || [];
  const documents = props.documents || [];
  const aliases = props.aliases || [];
  return (
    <Card id="vendor-card" className="w-full" style={{ maxWidth: '36rem' }}>
      <CardHeader className="pb-2">
        <CardTitle className="flex items-center gap-2 text-xl">
          <span data-testid="vendor-name">{props.name}</span>
          {props.category ? <Badge variant="secondary">{props.category}</Badge> : null}
        </CardTitle>
        {aliases.length ? (
          <CardDescription>Also known as {aliases.join(', ')}</CardDescription>
        ) : null}
      </CardHeader>
      <CardContent className="flex flex-col gap-3 text-sm">
        <dl style={{ display: 'grid', gridTemplateColumns: 'max-content 1fr', columnGap: '1rem', rowGap: '0.25rem', margin: 0 }}>
          {facts.map(([label, value]) => (
            <div key={label} style={{ display: 'contents' }}>
              <dt className="text-muted-foreground">{label}</dt>
              <dd style={{ margin: 0 }}>{value}</dd>
            </div>
          ))}
        </dl>
        {totals.length ? (
          <table className="tabular-nums" style={{ borderCollapse: 'collapse', width: 'auto' }}>
            <thead>
              <tr className="text-muted-foreground">
                <th className="text-left font-medium" style={{ paddingRight: '1.5rem' }}>Currency</th>
                <th className="text-right font-medium" style={{ paddingRight: '1.5rem' }}>Billed</th>
                <th className="text-right font-medium" style={{ paddingRight: '1.5rem' }}>Paid</th>
                <th className="text-right font-medium">Open</th>
              </tr>
            </thead>
            <tbody>
              {totals.map((t) => (
                <tr key={t.currency}>
                  <td style={{ paddingRight: '1.5rem' }}>{t.currency}</td>
                  <td className="text-right" style={{ paddingRight: '1.5rem' }}>{t.billed}</td>
                  <td className="text-right" style={{ paddingRight: '1.5rem' }}>{t.paid}</td>
                  <td className="text-right font-semibold">{t.open}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {anomalies.length ? (
          <div className="flex flex-col gap-1" data-testid="anomalies">
            {anomalies.map((a) => (
              <div key={a} className="flex items-center gap-2" style={{ color: '#ef4444' }}>
                <AlertTriangle className="h-4 w-4 shrink-0" />
                <span>{a}</span>
              </div>
            ))}
          </div>
        ) : null}
        {documents.length ? (
          <div className="flex flex-wrap items-center gap-2" data-testid="documents">
            <span className="text-muted-foreground">Originals:</span>
            {documents.map((d) => (
              <a key={d.url} href={d.url} target="_blank" rel="noreferrer"
                 className="flex items-center gap-1 text-primary hover:underline" title={d.filed ? 'filed ' + d.filed : ''}>
                <FileText className="h-4 w-4 shrink-0" />
                {d.label}
              </a>
            ))}
          </div>
        ) : null}
      </CardContent>
    </Card>
  );
}
